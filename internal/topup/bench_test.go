//go:build linux

package topup_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/internal/knock"
	"github.com/knockc/knockc/internal/testenv/netns"
	"github.com/knockc/knockc/internal/token"
	"github.com/knockc/knockc/internal/topup"
	"github.com/knockc/knockc/ruleset"
	"github.com/knockc/knockc/ruleset/nftkernel"
)

// Ports of the open-latency benchmark: each way in guards its own port.
const (
	benchSeqPort    = 2222  // knockc's 3-knock door
	benchFwknopPort = 2223  // fwknop's SPA, through iptables
	benchSPAPort    = 62301 // where fwknopd sniffs for SPA packets
)

// BenchmarkTokenOpen measures, in one run and one pair of namespaces, how
// long a client waits from its knock until a TCP handshake with the
// protected port completes, for three ways in, 50 rounds each:
//
//   - token: one datagram to an unmanaged token door (knockc);
//   - sequence: knockc's client knocking a 3-step door (10 ms apart, its
//     default) on the same table;
//   - fwknop: Debian's fwknopd (sniffing the link with libpcap, default
//     settings, opening iptables), the SPA packet made beforehand by the
//     fwknop client and sent by the benchmark, so the times start alike.
//
// Each round takes the previous grant away first. It reports p50 and p95
// per way in (ms); the connection attempts are 1 ms apart.
func BenchmarkTokenOpen(b *testing.B) {
	netns.RequireRoot(b, "ip", "iptables", "fwknopd", "fwknop")
	server := netns.New(b, "kctsrv")
	client, err := netns.Link(server, netns.New(b, "kctcli"), 1)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	specPath := filepath.Join(dir, "knock.toml")
	spec := fmt.Sprintf(`[door.tok]
protect = ["22/tcp"]
[door.tok.token]
port = %d
per_slot = 32  # 50 opens in a second or two
keys = { alice = "alice.key" }

[door.seq]
sequence = ["7000/tcp", "8000/tcp", "9000/tcp"]
protect  = ["%d/tcp"]
`, tokenPort, benchSeqPort)
	if err := os.WriteFile(specPath, []byte(spec), 0o644); err != nil {
		b.Fatal(err)
	}
	s, err := compiler.Load(specPath)
	if err != nil {
		b.Fatal(err)
	}
	secret, _ := token.NewSecret()
	td := s.Doors[1].Token
	key := &token.Key{Door: "tok", Name: "alice", Secret: secret, Port: td.Port, Slot: td.Slot, PerSlot: td.PerSlot, Skew: td.Skew}
	if err := token.WriteKey(filepath.Join(dir, "alice.key"), key); err != nil {
		b.Fatal(err)
	}
	keys, err := compiler.TokenKeys(s)
	if err != nil {
		b.Fatal(err)
	}
	conn, err := nftkernel.Open(server.Path())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Update(compiler.Compile(s), nftkernel.UpdateOptions{}); err != nil {
		b.Fatal(err)
	}
	if _, err := topup.Run(conn, s, keys, time.Now(), false); err != nil {
		b.Fatal(err)
	}
	for _, p := range []uint16{22, benchSeqPort, benchFwknopPort} {
		server.Listen(b, p)
	}
	spa := startFwknopd(b, server, client, dir)

	ungrant := func(door string) {
		for _, f := range []ruleset.Family{ruleset.IPv4, ruleset.IPv6} {
			els, _ := conn.Elements(s.Table.Name, compiler.GrantSet(door, f))
			for _, e := range els {
				conn.Remove(s.Table.Name, compiler.GrantSet(door, f), e.Addr)
			}
		}
	}
	dst := client.ServerV4
	state := filepath.Join(dir, "alice.key.state")
	keepState(b, state, key)
	steps, _ := knock.ParseSteps([]string{"7000/tcp", "8000/tcp", "9000/tcp"})
	// Each way makes its packets first (prepare) and returns what sends
	// them, so the clock starts at the send alike for all three.
	ways := []struct {
		name    string
		port    uint16
		reset   func()
		prepare func() func() error
	}{
		{"token", 22, func() { ungrant("tok") }, func() func() error {
			tok, _, err := token.Take(state, key, time.Now())
			if err != nil {
				b.Fatal(err)
			}
			return func() error { return knock.SendToken(dst, tokenPort, tok[:]) }
		}},
		{"sequence", benchSeqPort, func() { ungrant("seq") }, func() func() error {
			return func() error {
				return knock.KnockAddr(context.Background(), dst, steps, knock.Options{Delay: knock.DefaultDelay})
			}
		}},
		{"fwknop", benchFwknopPort, func() { server.Run(b, "iptables", "-F", "FWKNOP_INPUT") }, func() func() error {
			pkt := spa()
			return func() error { return sendUDP(dst, benchSPAPort, pkt) }
		}},
	}
	const rounds = 50
	for b.Loop() {
		for _, w := range ways {
			var took []time.Duration
			for range rounds {
				w.reset()
				send := w.prepare()
				var d time.Duration
				err := client.NS.Do(func() error {
					start := time.Now()
					if err := send(); err != nil {
						return err
					}
					c, _, err := knock.DialOpen(context.Background(), dst, w.port, time.Millisecond, 5*time.Second)
					if err != nil {
						return err
					}
					d = time.Since(start)
					return c.Close()
				})
				if err != nil {
					b.Fatalf("%s: %v", w.name, err)
				}
				took = append(took, d)
			}
			slices.Sort(took)
			b.ReportMetric(ms(took[len(took)/2]), w.name+"-p50-ms")
			b.ReportMetric(ms(took[len(took)*95/100]), w.name+"-p95-ms")
		}
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// startFwknopd runs Debian's fwknopd in server with its defaults but for
// the interface, the port it sniffs and a run directory of its own, behind
// an iptables rule that resets everyone else's connections to the port it
// guards; it returns a function that makes a fresh SPA packet (the fwknop
// client, -T: built, not sent) for the client's address.
func startFwknopd(b *testing.B, server *netns.NS, client *netns.Client, dir string) func() []byte {
	b.Helper()
	out, err := exec.Command("fwknop", "--rc-file", filepath.Join(dir, "fwknoprc"), "--key-gen").CombinedOutput()
	if err != nil {
		b.Fatalf("fwknop --key-gen: %v\n%s", err, out)
	}
	var k, h string
	for _, l := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(l, "KEY_BASE64: "); ok {
			k = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(l, "HMAC_KEY_BASE64: "); ok {
			h = strings.TrimSpace(v)
		}
	}
	if _, err := base64.StdEncoding.DecodeString(k); err != nil || h == "" {
		b.Fatalf("fwknop --key-gen gave no keys:\n%s", out)
	}
	conf := filepath.Join(dir, "fwknopd.conf")
	access := filepath.Join(dir, "access.conf")
	run := filepath.Join(dir, "fwknop-run")
	os.MkdirAll(run, 0o700)
	os.WriteFile(conf, []byte(fmt.Sprintf("PCAP_INTF %s;\nENABLE_PCAP_PROMISC N;\nPCAP_FILTER udp port %d;\nFIREWALL_EXE /usr/sbin/iptables;\n", client.ServerIf, benchSPAPort)), 0o600)
	os.WriteFile(access, []byte(fmt.Sprintf("SOURCE ANY\nOPEN_PORTS tcp/%d\nKEY_BASE64 %s\nHMAC_KEY_BASE64 %s\nFW_ACCESS_TIMEOUT 30\n", benchFwknopPort, k, h)), 0o600)
	server.Run(b, "iptables", "-A", "INPUT", "-p", "tcp", "--dport", fmt.Sprint(benchFwknopPort), "-j", "REJECT", "--reject-with", "tcp-reset")
	server.Start(b, "fwknopd", "-f", "-c", conf, "-a", access, "-i", client.ServerIf, "-p", filepath.Join(run, "pid"), "-d", filepath.Join(run, "digest"), "-r", run)
	// fwknopd adds its jump to FWKNOP_INPUT once it is up.
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if out, err := server.Exec("iptables", "-S", "INPUT"); err == nil && strings.Contains(out, "FWKNOP_INPUT") {
			break
		}
		if time.Now().After(end) {
			b.Fatal("fwknopd did not come up")
		}
	}
	pkt := filepath.Join(dir, "spa.pkt")
	return func() []byte {
		os.Remove(pkt)
		out, err := exec.Command("fwknop", "--rc-file", filepath.Join(dir, "fwknoprc"), "-A", fmt.Sprintf("tcp/%d", benchFwknopPort),
			"-a", client.V4.String(), "-D", client.ServerV4.String(), "--server-port", fmt.Sprint(benchSPAPort),
			"--key-base64-rijndael", k, "--key-base64-hmac", h, "--use-hmac", "-T", "-B", pkt).CombinedOutput()
		data, rerr := os.ReadFile(pkt)
		if err != nil || rerr != nil {
			b.Fatalf("fwknop -T -B: %v %v\n%s", err, rerr, out)
		}
		return []byte(strings.TrimSpace(string(data)))
	}
}

// sendUDP sends one datagram from the calling thread's namespace.
func sendUDP(dst netip.Addr, port uint16, payload []byte) error {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, port)))
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write(payload)
	return err
}

// BenchmarkTokenMemory measures the kernel memory the tokens installed
// ahead take: a token door with 20 keys at the default settings (slot
// 30s, 8 a slot, lifetime 5m, ahead 1h: 1049 elements a key) is applied,
// then its first top-up is timed and the growth of the kmalloc-cg slab
// caches (/proc/slabinfo: nf_tables charges set elements to the memory
// cgroup, and those caches see little other traffic) is divided by the
// elements added; the median of 5 rounds is reported. KiB/key adds the
// key's hash buckets, allocated with the set (ruleset.Set.BucketBytes).
func BenchmarkTokenMemory(b *testing.B) {
	netns.RequireRoot(b, "ip")
	const nkeys = 20
	for b.Loop() {
		var perElem, perKey, topUpMS []float64
		for range 5 {
			server := netns.New(b, "kctmem")
			dir := b.TempDir()
			var keysLine []string
			for i := range nkeys {
				keysLine = append(keysLine, fmt.Sprintf("k%02d = \"k%02d.key\"", i, i))
			}
			spec := fmt.Sprintf("[door.ssh]\nprotect = [\"22/tcp\"]\n[door.ssh.token]\nport = %d\nkeys = { %s }\n", tokenPort, strings.Join(keysLine, ", "))
			specPath := filepath.Join(dir, "knock.toml")
			os.WriteFile(specPath, []byte(spec), 0o644)
			s, err := compiler.Load(specPath)
			if err != nil {
				b.Fatal(err)
			}
			td := s.Doors[0].Token
			for _, k := range td.Keys {
				secret, _ := token.NewSecret()
				token.WriteKey(k.Path, &token.Key{Door: "ssh", Name: k.Name, Secret: secret, Port: td.Port, Slot: td.Slot, PerSlot: td.PerSlot, Skew: td.Skew})
			}
			keys, err := compiler.TokenKeys(s)
			if err != nil {
				b.Fatal(err)
			}
			conn, err := nftkernel.Open(server.Path())
			if err != nil {
				b.Fatal(err)
			}
			if _, err := conn.Update(compiler.Compile(s), nftkernel.UpdateOptions{}); err != nil {
				b.Fatal(err)
			}
			before := cgSlab(b)
			start := time.Now()
			st, err := topup.Run(conn, s, keys, time.Now(), false)
			took := time.Since(start)
			if err != nil {
				b.Fatal(err)
			}
			after := cgSlab(b)
			added := 0
			for _, k := range st {
				added += k.Added + 1
			}
			e := float64(after-before) / float64(added)
			perElem = append(perElem, e)
			buckets := compiler.Compile(s).Sets[len(s.Doors[0].Families)].BucketBytes()
			perKey = append(perKey, (e*float64(added)/nkeys+float64(buckets))/1024)
			topUpMS = append(topUpMS, ms(took))
			conn.Close()
		}
		b.ReportMetric(median(perElem), "B/element")
		b.ReportMetric(median(perKey), "KiB/key")
		b.ReportMetric(median(topUpMS), "topup-20keys-ms")
	}
}

func median(v []float64) float64 {
	slices.Sort(v)
	return v[len(v)/2]
}

// cgSlab returns the bytes of active objects in the kmalloc-cg-* caches.
func cgSlab(b *testing.B) int64 {
	b.Helper()
	data, err := os.ReadFile("/proc/slabinfo")
	if err != nil {
		b.Fatal(err)
	}
	var total int64
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) < 4 || !strings.HasPrefix(f[0], "kmalloc-cg-") {
			continue
		}
		var active, size int64
		fmt.Sscan(f[1], &active)
		fmt.Sscan(f[3], &size)
		total += active * size
	}
	return total
}
