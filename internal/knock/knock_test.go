//go:build linux

package knock_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/internal/knock"
	"github.com/knockc/knockc/internal/testenv/netns"
	"github.com/knockc/knockc/ruleset/nftkernel"
)

// retransmitWait is longer than Linux's initial SYN retransmission timeout
// (1 s): a knock socket left open would have sent its second SYN by then.
const retransmitWait = 1200 * time.Millisecond

// steps parses knock steps, failing the test on a bad one.
func steps(t *testing.T, args ...string) []knock.Step {
	t.Helper()
	s, err := knock.ParseSteps(args)
	if err != nil {
		t.Fatalf("ParseSteps(%q) = %v", args, err)
	}
	return s
}

// knockFrom runs knock.Knock inside c's namespace.
func knockFrom(t *testing.T, c *netns.Client, host string, s []knock.Step, opts knock.Options) error {
	t.Helper()
	return c.NS.Do(func() error { return knock.Knock(t.Context(), host, s, opts) })
}

// waitFrom runs knock.WaitOpen inside c's namespace.
func waitFrom(t *testing.T, c *netns.Client, addr netip.Addr, port uint16, timeout time.Duration) (time.Duration, error) {
	t.Helper()
	var took time.Duration
	err := c.NS.Do(func() error {
		var err error
		took, err = knock.WaitOpen(t.Context(), addr, port, 0, timeout)
		return err
	})
	return took, err
}

// nftApply loads an nft ruleset inside n.
func nftApply(t *testing.T, n *netns.NS, text string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ruleset.nft")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	n.Run(t, "nft", "-f", path)
}

// counters reads every named counter of table inet t inside n.
func counters(t *testing.T, n *netns.NS) map[string]uint64 {
	t.Helper()
	out := n.Run(t, "nft", "-j", "list", "counters", "table", "inet", "t")
	var doc struct {
		Nftables []struct {
			Counter *struct {
				Name    string `json:"name"`
				Packets uint64 `json:"packets"`
			} `json:"counter"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("parse nft counters: %v\n%s", err, out)
	}
	got := map[string]uint64{}
	for _, o := range doc.Nftables {
		if o.Counter != nil {
			got[o.Counter.Name] = o.Counter.Packets
		}
	}
	return got
}

// wantCounters waits until every counter in want has reached its value and
// then fails the test unless every counter of the table equals want (a
// counter missing from want must be 0).
func wantCounters(t *testing.T, n *netns.NS, want map[string]uint64) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	var got map[string]uint64
	for {
		got = counters(t, n)
		done := true
		for name, w := range want {
			if got[name] < w {
				done = false
			}
		}
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	for name, g := range got {
		if g != want[name] {
			t.Errorf("counter %q = %d packets, want %d", name, g, want[name])
		}
	}
	for name := range want {
		if _, ok := got[name]; !ok {
			t.Errorf("counter %q is missing", name)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// countKnocks installs counters in n for every knock a test sends to the
// given ports: per family and port, SYNs without ACK ("syn4_7000"), all TCP
// packets ("tcp4_7000"), and UDP datagrams carrying exactly Payload
// ("udp4_7000"); "ack" counts any ACK-flagged segment to those ports (a
// handshake), "udpother" any other datagram. Ports in drop get no answer at
// all; the others are answered like closed ports.
func countKnocks(t *testing.T, n *netns.NS, ports []uint16, drop ...uint16) {
	t.Helper()
	var decl, rules []string
	var list []string
	for _, p := range ports {
		list = append(list, fmt.Sprint(p))
		for _, f := range []int{4, 6} {
			for _, kind := range []string{"syn", "tcp", "udp"} {
				decl = append(decl, fmt.Sprintf("counter %s%d_%d {}", kind, f, p))
			}
			rules = append(rules,
				fmt.Sprintf(`meta nfproto ipv%d tcp dport %d tcp flags & (syn|ack) == syn counter name "syn%d_%d"`, f, p, f, p),
				fmt.Sprintf(`meta nfproto ipv%d tcp dport %d counter name "tcp%d_%d"`, f, p, f, p),
				fmt.Sprintf(`meta nfproto ipv%d udp dport %d udp length %d @th,64,%d 0x%x counter name "udp%d_%d"`, f, p, 8+len(knock.Payload), 8*len(knock.Payload), knock.Payload, f, p),
			)
		}
	}
	set := "{ " + strings.Join(list, ", ") + " }"
	decl = append(decl, "counter ack {}", "counter udpother {}")
	rules = append(rules,
		fmt.Sprintf(`tcp dport %s tcp flags & ack == ack counter name "ack"`, set),
		fmt.Sprintf(`udp dport %s udp length != %d counter name "udpother"`, set, 8+len(knock.Payload)),
	)
	for _, p := range drop {
		rules = append(rules, fmt.Sprintf("tcp dport %d drop", p), fmt.Sprintf("udp dport %d drop", p))
	}
	nftApply(t, n, "table inet t {\n\t"+strings.Join(decl, "\n\t")+
		"\n\tchain c {\n\t\ttype filter hook input priority 0; policy accept;\n\t\t"+
		strings.Join(rules, "\n\t\t")+"\n\t}\n}\n")
}

// Every TCP knock is exactly one SYN, never retransmitted and never
// followed by a handshake, whether the port answers with a reset or drops
// it; every UDP knock is one datagram; over IPv4 and IPv6.
func TestIntegrationKnockSendsExactlyOnePacketPerStep(t *testing.T) {
	netns.RequireRoot(t, "nft")
	t.Parallel()
	p := netns.NewPair(t)
	countKnocks(t, p.Server, []uint16{7000, 8000, 9000}, 9000)
	seq := steps(t, "7000/tcp", "8000/udp", "9000/tcp", "9000/udp", "8000/tcp")

	var sent []string
	opts := knock.Options{Delay: 20 * time.Millisecond, Sent: func(to netip.AddrPort, s knock.Step) {
		sent = append(sent, fmt.Sprintf("%s/%s", to, s.Proto))
	}}
	start := time.Now()
	if err := knockFrom(t, p.Primary, p.ServerV4.String(), seq, opts); err != nil {
		t.Fatalf("Knock(%s) = %v", p.ServerV4, err)
	}
	if took := time.Since(start); took < 4*opts.Delay {
		t.Errorf("Knock(5 steps, delay %v) took %v, want at least %v", opts.Delay, took, 4*opts.Delay)
	}
	if err := knockFrom(t, p.Primary, "["+p.ServerV6.String()+"]", seq, opts); err != nil {
		t.Fatalf("Knock([%s]) = %v", p.ServerV6, err)
	}
	want := map[string]uint64{}
	for _, f := range []int{4, 6} {
		for _, k := range []string{"syn%d_7000", "tcp%d_7000", "udp%d_8000", "syn%d_8000", "tcp%d_8000", "syn%d_9000", "tcp%d_9000", "udp%d_9000"} {
			want[fmt.Sprintf(k, f)] = 1
		}
	}
	wantCounters(t, p.Server, want)
	time.Sleep(retransmitWait)
	wantCounters(t, p.Server, want)

	wantSent := []string{"198.18.1.1:7000/tcp", "198.18.1.1:8000/udp", "198.18.1.1:9000/tcp", "198.18.1.1:9000/udp", "198.18.1.1:8000/tcp"}
	for _, s := range wantSent {
		wantSent = append(wantSent, strings.Replace(s, "198.18.1.1", "[fd00:6b6e:1::1]", 1))
	}
	if fmt.Sprint(sent) != fmt.Sprint(wantSent) {
		t.Errorf("Sent calls = %v, want %v", sent, wantSent)
	}
}

// fakeResolver maps host names to addresses, in the order given.
type fakeResolver map[string][]netip.Addr

func (r fakeResolver) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, a := range r[host] {
		if network == "ip" || (network == "ip4") == a.Is4() {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("lookup %s: no such host", host)
	}
	return out, nil
}

// A host given by name or literal is knocked over the family asked for,
// or the resolver's first.
func TestIntegrationKnockResolvesHost(t *testing.T) {
	netns.RequireRoot(t, "nft")
	t.Parallel()
	p := netns.NewPair(t)
	countKnocks(t, p.Server, []uint16{7000})
	res := fakeResolver{
		"both.test":    {p.ServerV6, p.ServerV4},
		"v4first.test": {p.ServerV4, p.ServerV6},
		"v4only.test":  {p.ServerV4},
	}
	cases := []struct {
		name, host, network string
		wantFamily          int
	}{
		{"name, first address", "both.test", "", 6},
		{"name, first address v4", "v4first.test", "ip", 4},
		{"name, forced ipv4", "both.test", "ip4", 4},
		{"name, forced ipv6", "v4first.test", "ip6", 6},
		{"name, one family", "v4only.test", "", 4},
		{"ipv4 literal", p.ServerV4.String(), "", 4},
		{"ipv6 literal", p.ServerV6.String(), "", 6},
		{"ipv6 literal in brackets", "[" + p.ServerV6.String() + "]", "ip6", 6},
		{"ipv4-mapped ipv6 literal", "::ffff:" + p.ServerV4.String(), "ip4", 4},
	}
	want := map[string]uint64{}
	for _, tc := range cases {
		opts := knock.Options{Network: tc.network, Resolver: res}
		if err := knockFrom(t, p.Primary, tc.host, steps(t, "7000"), opts); err != nil {
			t.Fatalf("%s: Knock(%q, %q) = %v", tc.name, tc.host, tc.network, err)
		}
		want[fmt.Sprintf("syn%d_7000", tc.wantFamily)]++
		want[fmt.Sprintf("tcp%d_7000", tc.wantFamily)]++
		wantCounters(t, p.Server, want)
	}
}

// The real resolver path: "localhost" resolves through the system's hosts
// file, and the knock reaches a listener in the client's own namespace.
func TestIntegrationKnockLocalhost(t *testing.T) {
	netns.RequireRoot(t, "nft")
	t.Parallel()
	p := netns.NewPair(t)
	ln := p.Client.Listen(t, 0)
	countKnocks(t, p.Client, []uint16{ln.Port()})
	var addr netip.Addr
	err := p.Client.Do(func() error {
		var err error
		if addr, err = knock.Resolve(t.Context(), "localhost", knock.Options{Network: "ip4"}); err != nil {
			return err
		}
		return knock.Knock(t.Context(), "localhost", steps(t, fmt.Sprint(ln.Port())), knock.Options{Network: "ip4"})
	})
	if err != nil {
		t.Fatalf("knock localhost: %v", err)
	}
	if addr != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("Resolve(localhost, ip4) = %s, want 127.0.0.1", addr)
	}
	// The listener answers the SYN at once over lo, so the kernel may have
	// completed the handshake before the socket was closed (and then reset
	// it): only the SYN count is exact here.
	time.Sleep(retransmitWait)
	if got := counters(t, p.Client)[fmt.Sprintf("syn4_%d", ln.Port())]; got != 1 {
		t.Errorf("SYNs to localhost:%d = %d, want 1", ln.Port(), got)
	}
	took, err := waitFrom(t, p.Primary, addr, ln.Port(), time.Second)
	if err != nil || took > 500*time.Millisecond {
		t.Errorf("WaitOpen(localhost:%d) = %v, %v; want open at once", ln.Port(), took, err)
	}
}

// WaitOpen reports an open port at once, a port that opens late soon after
// it opens, and fails within its timeout on a dropped or rejected port.
func TestIntegrationWaitOpen(t *testing.T) {
	netns.RequireRoot(t, "nft")
	t.Parallel()
	p := netns.NewPair(t)
	ln := p.Server.Listen(t, 0)
	late := p.Server.Listen(t, 0)
	nftApply(t, p.Server, fmt.Sprintf(`table inet t {
	chain c {
		type filter hook input priority 0; policy accept;
		tcp dport 2223 drop
		tcp dport %d drop comment "late"
	}
}`, late.Port()))

	took, err := waitFrom(t, p.Primary, p.ServerV4, ln.Port(), time.Second)
	if err != nil || took > 200*time.Millisecond {
		t.Errorf("WaitOpen(open port) = %v, %v; want open within 200ms", took, err)
	}
	took, err = waitFrom(t, p.Primary, p.ServerV6, ln.Port(), time.Second)
	if err != nil || took > 200*time.Millisecond {
		t.Errorf("WaitOpen(open port over IPv6) = %v, %v; want open within 200ms", took, err)
	}

	for _, tc := range []struct {
		name    string
		port    uint16
		wantErr string
	}{
		{"dropped", 2223, "no answer"},
		{"rejected", 2224, "connection refused"},
	} {
		start := time.Now()
		_, err := waitFrom(t, p.Primary, p.ServerV4, tc.port, 600*time.Millisecond)
		elapsed := time.Since(start)
		if err == nil || !strings.Contains(err.Error(), "not open after 600ms") || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("WaitOpen(%s port) = %v, want an error naming the timeout and %q", tc.name, err, tc.wantErr)
		}
		if elapsed < 600*time.Millisecond || elapsed > 1200*time.Millisecond {
			t.Errorf("WaitOpen(%s port, 600ms) returned after %v, want 600ms–1.2s", tc.name, elapsed)
		}
	}

	// The late port opens 300 ms in; attempts every 50 ms notice within
	// about one interval (plus the time nft takes), where waiting for a
	// SYN retransmission would take until 1.3 s at least.
	go func() {
		time.Sleep(300 * time.Millisecond)
		_, _ = p.Server.Exec("nft", "flush", "chain", "inet", "t", "c")
	}()
	took, err = waitFrom(t, p.Primary, p.ServerV4, late.Port(), 2*time.Second)
	if err != nil || took < 300*time.Millisecond || took > 900*time.Millisecond {
		t.Errorf("WaitOpen(port opening after 300ms) = %v, %v; want open after 300–900ms", took, err)
	}
}

// The classic door from examples/, applied in the server's kernel, opens
// for knock.Knock from the client and closes again on its close sequence.
func TestIntegrationKnockOpensClassicDoor(t *testing.T) {
	netns.RequireRoot(t, "nft")
	t.Parallel()
	p := netns.NewPair(t)
	spec := applySpec(t, p, "../../examples/classic-ssh.toml")
	p.Server.Listen(t, 22)
	open, err := knock.DoorSteps(spec, "ssh", false)
	if err != nil {
		t.Fatal(err)
	}
	shut, err := knock.DoorSteps(spec, "ssh", true)
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range []netip.Addr{p.ServerV4, p.ServerV6} {
		if _, err := waitFrom(t, p.Primary, addr, 22, 200*time.Millisecond); err == nil || !strings.Contains(err.Error(), "connection refused") {
			t.Fatalf("WaitOpen(%s:22) before knocking = %v, want refused", addr, err)
		}
		if err := knockFrom(t, p.Primary, addr.String(), open, knock.Options{Delay: knock.DefaultDelay}); err != nil {
			t.Fatalf("Knock(%s, %v) = %v", addr, open, err)
		}
		took, err := waitFrom(t, p.Primary, addr, 22, 2*time.Second)
		if err != nil || took > 200*time.Millisecond {
			t.Fatalf("WaitOpen(%s:22) after the knock = %v, %v; want open within 200ms", addr, took, err)
		}
		if err := knockFrom(t, p.Primary, addr.String(), shut, knock.Options{Delay: knock.DefaultDelay}); err != nil {
			t.Fatalf("Knock(%s, %v) = %v", addr, shut, err)
		}
		if _, err := waitFrom(t, p.Primary, addr, 22, 200*time.Millisecond); err == nil {
			t.Fatalf("WaitOpen(%s:22) after the close sequence succeeded, want refused", addr)
		}
	}
}

// applySpec loads the spec at path and applies it in p's server namespace.
func applySpec(t *testing.T, p *netns.Pair, path string) *compiler.Spec {
	t.Helper()
	spec, err := compiler.Load(path)
	if err != nil {
		t.Fatalf("Load(%q) = %v", path, err)
	}
	conn, err := nftkernel.Open(p.Server.Path())
	if err != nil {
		t.Fatalf("nftkernel.Open(%q) = %v", p.Server.Path(), err)
	}
	t.Cleanup(func() { conn.Close() })
	have, err := conn.Read(spec.Table.Name)
	if err != nil {
		t.Fatalf("Read(%q) = %v", spec.Table.Name, err)
	}
	if err := conn.Apply(compiler.Compile(spec), have); err != nil {
		t.Fatalf("Apply(%s) = %v", path, err)
	}
	return spec
}

// Errors that need no network: bad steps, bad hosts, unknown doors.
func TestResolveErrors(t *testing.T) {
	res := fakeResolver{"v4only.test": {netip.MustParseAddr("192.0.2.1")}}
	cases := []struct {
		name, host, network, want string
	}{
		{"empty host", "", "", "resolve: empty host"},
		{"bad network", "192.0.2.1", "tcp", `network "tcp" is not ip, ip4 or ip6`},
		{"v4 literal, ip6 forced", "192.0.2.1", "ip6", `resolve "192.0.2.1": 192.0.2.1 is not an IPv6 address`},
		{"v6 literal, ip4 forced", "[2001:db8::1]", "ip4", "2001:db8::1 is not an IPv4 address"},
		{"name without ipv6", "v4only.test", "ip6", `resolve "v4only.test": lookup v4only.test: no such host`},
		{"unknown name", "nowhere.test", "", `resolve "nowhere.test": lookup nowhere.test: no such host`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := knock.Resolve(t.Context(), tc.host, knock.Options{Network: tc.network, Resolver: res})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Resolve(%q, %q) = %v, want an error containing %q", tc.host, tc.network, err, tc.want)
			}
		})
	}
}

func TestParseSteps(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string // the steps, or the error
	}{
		{"all spellings", []string{"7000/tcp", "8000:udp", "9000", "1/UDP"}, "[7000/tcp 8000/udp 9000/tcp 1/udp]"},
		{"none", nil, "parse steps: no steps"},
		{"port too big", []string{"7000", "70000"}, `parse step 2: "70000": port must be a number from 1 to 65535`},
		{"bad protocol", []string{"7000/icmp"}, `parse step 1: "7000/icmp": protocol must be tcp or udp`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := knock.ParseSteps(tc.args)
			got := fmt.Sprint(s)
			if err != nil {
				got = err.Error()
			}
			if !strings.HasPrefix(got, tc.want) {
				t.Errorf("ParseSteps(%q) = %s, want %s", tc.args, got, tc.want)
			}
		})
	}
}

func TestDoorSteps(t *testing.T) {
	spec, err := compiler.Parse("knock.toml", []byte(`
[door.ssh]
sequence       = ["7000", "8000/udp"]
close_sequence = ["8000/udp", "7000"]
protect        = ["22/tcp"]
families       = ["ipv6"]

[door.web]
sequence = ["7100"]
protect  = ["443/tcp"]

[door.fin-door]
sequence  = ["7200"]
protect   = ["80/tcp"]
tcp_flags = "fin,!ack"
`))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, door string
		closing    bool
		want       string
	}{
		{"open", "ssh", false, "[7000/tcp 8000/udp]"},
		{"close", "SSH", true, "[8000/udp 7000/tcp]"},
		{"no close sequence", "web", true, `door "web": has no close_sequence; its grant ends by itself after open_for (30s)`},
		{"unknown door", "mail", false, `door "mail": not in knock.toml (doors: fin_door, ssh, web)`},
		{"flags a SYN does not match", "fin-door", false, `door "fin_door": counts TCP knocks with flags "fin,!ack", but knockc knock sends a plain SYN`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := knock.DoorSteps(spec, tc.door, tc.closing)
			got := fmt.Sprint(s)
			if err != nil {
				got = err.Error()
			}
			if !strings.HasPrefix(got, tc.want) {
				t.Errorf("DoorSteps(%q, close=%v) = %s, want %s", tc.door, tc.closing, got, tc.want)
			}
		})
	}
	for door, want := range map[string]string{"ssh": "ip6", "web": "ip", "nope": "ip"} {
		if got := knock.DoorNetwork(spec, door); got != want {
			t.Errorf("DoorNetwork(%q) = %q, want %q", door, got, want)
		}
	}
}

// Knock stops when its context ends, between two knocks.
func TestKnockHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := knock.Knock(ctx, "192.0.2.1", steps(t, "7000"), knock.Options{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Knock(cancelled) = %v, want context.Canceled", err)
	}
}
