//go:build linux

package nftkernel_test

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/internal/testenv/flood"
	"github.com/knockc/knockc/internal/testenv/netns"
	"github.com/knockc/knockc/internal/testenv/specgen"
	"github.com/knockc/knockc/ruleset"
	"github.com/knockc/knockc/ruleset/nftkernel"
)

// The cost benchmarks of docs/cost.md put every case side by side in one
// run and interleave them round by round, so that load from elsewhere on
// the machine falls on all cases alike; they report medians and the spread
// (max/min of the rounds) as the noise. Run them with -benchtime=1x.

// costRounds is how many interleaved rounds each cost benchmark runs.
const costRounds = 7

// synCase is one server of BenchmarkPlainSYN: a namespace with its own
// client link and whatever filters the case puts there.
type synCase struct {
	name   string
	server *netns.NS
	client *netns.Client
	// pps is each round's SYNs received per second of wall time, cpuPPS
	// per second of the sending thread's CPU time, which carries the
	// receiver's softirq work (this kernel has no IRQ time accounting).
	pps, cpuPPS []float64
}

// BenchmarkPlainSYN measures what knockc costs the host's other traffic: a
// client blasts SYNs at an unrelated closed port (80/tcp) as fast as it
// can, and the server's rate of TCP segments received is compared for no
// table, knockc tables of 1, 10 and 100 doors (specgen's doors, small
// sets: a packet's cost does not depend on a set's size) and knockd
// sniffing the link with one door. ratio-… is the median against no
// table's median; noise-… is max/min over the rounds of one case.
func BenchmarkPlainSYN(b *testing.B) {
	netns.RequireRoot(b, "ip", "nft", "knockd")
	const blast = 500 * time.Millisecond
	var cases []*synCase
	add := func(name string) *synCase {
		server := netns.New(b, "kccsrv")
		client, err := netns.Link(server, netns.New(b, "kcccli"), 1)
		if err != nil {
			b.Fatal(err)
		}
		c := &synCase{name: name, server: server, client: client}
		cases = append(cases, c)
		return c
	}
	add("none")
	for _, n := range []int{1, 10, 100} {
		c := add(fmt.Sprintf("doors=%d", n))
		applyDoors(b, c.server, n, specgen.SmallSets)
	}
	kd := add("knockd")
	dir := b.TempDir()
	conf := filepath.Join(dir, "knockd.conf")
	if err := os.WriteFile(conf, []byte("[options]\n\tLogFile = "+filepath.Join(dir, "knockd.log")+"\n[open]\n\tsequence = 7000,8000,9000\n\tseq_timeout = 10\n\ttcpflags = syn\n\tcommand = /bin/true\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	kd.server.Start(b, "knockd", "-i", kd.client.ServerIf, "-c", conf)
	time.Sleep(500 * time.Millisecond) // knockd opens its pcap handle

	src := netip.MustParsePrefix("10.64.0.0/22")
	for range b.N {
		for round := range costRounds {
			for _, c := range cases {
				before := inSegs(b, c.server)
				start := time.Now()
				var sent int
				var cpu time.Duration
				if err := c.client.NS.Do(func() error {
					cpu0 := threadCPU()
					var err error
					sent, err = flood.Blast(src, c.client.ServerV4, 80, blast)
					cpu = threadCPU() - cpu0
					return err
				}); err != nil {
					b.Fatal(err)
				}
				el := time.Since(start)
				got := inSegs(b, c.server) - before
				if got < sent/2 {
					b.Fatalf("%s round %d: server received %d of %d SYNs: the link drops them, the figure would be the drop rate", c.name, round, got, sent)
				}
				c.pps = append(c.pps, float64(got)/el.Seconds())
				c.cpuPPS = append(c.cpuPPS, float64(got)/cpu.Seconds())
			}
		}
	}
	base, cpuBase := median(cases[0].pps), median(cases[0].cpuPPS)
	for _, c := range cases {
		m, cm := median(c.pps), median(c.cpuPPS)
		b.ReportMetric(m, "pps-"+c.name)
		b.ReportMetric(m/base, "ratio-"+c.name)
		b.ReportMetric(cm/cpuBase, "cpu-ratio-"+c.name)
		b.ReportMetric(1e6/cm, "cpu-µs/SYN-"+c.name)
		b.Logf("%-9s wall: median %7.0f SYN/s %.2f× no table, noise %.1f (rounds %s)", c.name, m, m/base, slices.Max(c.pps)/slices.Min(c.pps), fmtRounds(c.pps))
		b.Logf("%-9s cpu:  median %7.0f SYN/cpu-s %.2f× no table, %.2f µs/SYN, noise %.1f (rounds %s)", c.name, cm, cm/cpuBase, 1e6/cm, slices.Max(c.cpuPPS)/slices.Min(c.cpuPPS), fmtRounds(c.cpuPPS))
	}
}

// applyDoors applies a table of n generated doors in ns.
func applyDoors(b *testing.B, ns *netns.NS, n, floodRate int) (*nftkernel.Conn, *ruleset.Table) {
	b.Helper()
	spec, err := compiler.Parse("gen.toml", specgen.Doors(n, floodRate))
	if err != nil {
		b.Fatal(err)
	}
	want := compiler.Compile(spec)
	conn, err := nftkernel.Open(ns.Path())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	if err := conn.Apply(want, nil); err != nil {
		b.Fatalf("Apply(%d doors) = %v", n, err)
	}
	return conn, want
}

// inSegs returns the TCP segments ns has received (InSegs of its
// /proc/net/snmp).
func inSegs(b *testing.B, ns *netns.NS) int {
	b.Helper()
	var data []byte
	if err := ns.Do(func() error {
		var err error
		data, err = os.ReadFile("/proc/thread-self/net/snmp")
		return err
	}); err != nil {
		b.Fatal(err)
	}
	var head []string
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || f[0] != "Tcp:" {
			continue
		}
		if head == nil {
			head = f
			continue
		}
		for i, h := range head {
			if h == "InSegs" && i < len(f) {
				n, err := strconv.Atoi(f[i])
				if err != nil {
					b.Fatal(err)
				}
				return n
			}
		}
	}
	b.Fatal("/proc/net/snmp has no Tcp InSegs")
	return 0
}

// BenchmarkDoorMemory measures the kernel memory a table of N doors at the
// default set sizes takes at apply, before any knock: the growth of
// unreclaimable slab plus vmalloc (/proc/meminfo SUnreclaim, VmallocUsed)
// from an empty namespace to the applied table, and the drop of MemFree
// (hash bucket tables too big for a slab come straight from the page
// allocator and show in neither), in rounds interleaving
// 1, 10 and 100 doors, each in a fresh namespace removed afterwards. The
// figures are machine-wide, so the median of the rounds is reported.
func BenchmarkDoorMemory(b *testing.B) {
	netns.RequireRoot(b, "ip", "nft")
	doors := []int{1, 10, 100}
	got, free := map[int][]float64{}, map[int][]float64{}
	for range b.N {
		for range 3 {
			for _, n := range doors {
				spec, err := compiler.Parse("gen.toml", specgen.Doors(n, 0))
				if err != nil {
					b.Fatal(err)
				}
				want := compiler.Compile(spec)
				ns, err := netns.Create("kccmem")
				if err != nil {
					b.Fatal(err)
				}
				conn, err := nftkernel.Open(ns.Path())
				if err != nil {
					ns.Remove()
					b.Fatal(err)
				}
				before, free0 := kernelKiB(b), meminfoKiB(b, "MemFree:")
				err = conn.Apply(want, nil)
				after, free1 := kernelKiB(b), meminfoKiB(b, "MemFree:")
				conn.Close()
				if rerr := ns.Remove(); rerr != nil {
					b.Fatal(rerr)
				}
				if err != nil {
					b.Fatalf("Apply(%d doors) = %v", n, err)
				}
				got[n] = append(got[n], float64(after-before)/1024)
				free[n] = append(free[n], float64(free0-free1)/1024)
				time.Sleep(time.Second) // the kernel frees a namespace's tables in a worker, later
			}
		}
	}
	for _, n := range doors {
		m := median(got[n])
		b.ReportMetric(m, fmt.Sprintf("MiB-doors=%d", n))
		b.ReportMetric(m/float64(n), fmt.Sprintf("MiB/door-doors=%d", n))
		b.Logf("doors=%-3d slab+vmalloc: median %8.1f MiB  %.2f MiB/door  (rounds %s)", n, m, m/float64(n), fmtRounds(got[n]))
		f := median(free[n])
		b.ReportMetric(f, fmt.Sprintf("MiB-memfree-doors=%d", n))
		b.Logf("doors=%-3d MemFree drop: median %8.1f MiB  %.2f MiB/door  (rounds %s)", n, f, f/float64(n), fmtRounds(free[n]))
	}
}

// meminfoKiB returns one line's figure of /proc/meminfo.
func meminfoKiB(b *testing.B, key string) int64 {
	b.Helper()
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == key {
			n, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	b.Fatalf("/proc/meminfo has no %s", key)
	return 0
}

// kernelKiB returns SUnreclaim + VmallocUsed from /proc/meminfo: where
// nf_tables keeps sets, their hash buckets and rules.
func kernelKiB(b *testing.B) int64 {
	b.Helper()
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		b.Fatal(err)
	}
	var sum int64
	found := 0
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && (f[0] == "SUnreclaim:" || f[0] == "VmallocUsed:") {
			n, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			sum += n
			found++
		}
	}
	if found != 2 {
		b.Fatal("/proc/meminfo lacks SUnreclaim or VmallocUsed")
	}
	return sum
}

// BenchmarkApplyVsNftF sets a first `knockc apply` (Conn.Apply from empty)
// beside `nft -f` of ruleset.Render's text of the same table at 1, 10,
// 100 and 300 doors (small sets), interleaved round by round in one
// namespace per door count. nft's time includes starting ip and nft;
// nft-excl-startup subtracts the median time of the same command on an
// empty file. ratio-… is knockc's median over nft's (excluding startup).
func BenchmarkApplyVsNftF(b *testing.B) {
	netns.RequireRoot(b, "ip", "nft")
	doors := []int{1, 10, 100, 300}
	type env struct {
		ns          *netns.NS
		conn        *nftkernel.Conn
		want        *ruleset.Table
		file        string
		apply, nftf []float64 // wall ms
		applyCPU    []float64 // this process's CPU ms (kernel work in its syscalls included)
		nftfCPU     []float64 // nft's CPU ms, startup excluded
	}
	dir := b.TempDir()
	empty := filepath.Join(dir, "empty.nft")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		b.Fatal(err)
	}
	var envs []*env
	for _, n := range doors {
		spec, err := compiler.Parse("gen.toml", specgen.Doors(n, specgen.SmallSets))
		if err != nil {
			b.Fatal(err)
		}
		e := &env{ns: netns.New(b, "kccapl"), want: compiler.Compile(spec)}
		if e.conn, err = nftkernel.Open(e.ns.Path()); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { e.conn.Close() })
		e.file = filepath.Join(dir, fmt.Sprintf("doors%d.nft", n))
		if err := os.WriteFile(e.file, []byte(ruleset.Render(e.want)), 0o644); err != nil {
			b.Fatal(err)
		}
		envs = append(envs, e)
	}
	var startup, startupCPU []float64
	for range b.N {
		for range costRounds {
			for _, e := range envs {
				wall, cpu := nftF(b, e.ns, empty)
				startup, startupCPU = append(startup, wall), append(startupCPU, cpu)

				start, cpu0 := time.Now(), processCPU()
				if err := e.conn.Apply(e.want, nil); err != nil {
					b.Fatal(err)
				}
				e.apply = append(e.apply, ms(time.Since(start)))
				e.applyCPU = append(e.applyCPU, ms(processCPU()-cpu0))
				if err := e.conn.Delete(e.want.Name); err != nil {
					b.Fatal(err)
				}

				wall, cpu = nftF(b, e.ns, e.file)
				e.nftf, e.nftfCPU = append(e.nftf, wall), append(e.nftfCPU, cpu)
				if err := e.conn.Delete(e.want.Name); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	st, stCPU := median(startup), median(startupCPU)
	b.ReportMetric(st, "nft-startup-ms")
	for i, n := range doors {
		e := envs[i]
		a, f := median(e.apply), median(e.nftf)-st
		ac, fc := median(e.applyCPU), median(e.nftfCPU)-stCPU
		b.ReportMetric(a, fmt.Sprintf("apply-ms-doors=%d", n))
		b.ReportMetric(f, fmt.Sprintf("nftf-excl-startup-ms-doors=%d", n))
		b.ReportMetric(a/f, fmt.Sprintf("ratio-doors=%d", n))
		b.ReportMetric(ac/fc, fmt.Sprintf("cpu-ratio-doors=%d", n))
		b.Logf("doors=%-3d wall: apply %7.2f ms (rounds %s), nft -f %7.2f ms after its %.2f ms startup (rounds %s): %.2f×",
			n, a, fmtRounds(e.apply), f, st, fmtRounds(e.nftf), a/f)
		b.Logf("doors=%-3d cpu:  apply %7.2f ms (rounds %s), nft -f %7.2f ms after its %.2f ms startup (rounds %s): %.2f×",
			n, ac, fmtRounds(e.applyCPU), fc, stCPU, fmtRounds(e.nftfCPU), ac/fc)
	}
}

// nftF runs `nft -f file` in ns and returns its wall and CPU time (user
// and system, kernel work in its syscalls included) in ms.
func nftF(b *testing.B, ns *netns.NS, file string) (wall, cpu float64) {
	b.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns.Name, "nft", "-f", file)
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("nft -f %s: %v\n%s", file, err, out)
	}
	wall = ms(time.Since(start))
	return wall, ms(cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime())
}

// processCPU returns this process's CPU time, user and system.
func processCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// threadCPU returns the calling OS thread's CPU time.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		panic(err)
	}
	return time.Duration(ts.Nano())
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// median returns the median of xs (the upper one of an even count).
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// fmtRounds prints each round's figure, three significant digits.
func fmtRounds(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.FormatFloat(x, 'g', 3, 64)
	}
	return strings.Join(parts, " ")
}

// BenchmarkElementMemory measures the kernel memory one element of a
// dynamic timeout set takes, for each family: 100,000 elements are added
// (by nft -f, the same allocation as a packet's `update`) to an empty set
// of 200,000, and the growth of the kmalloc-cg-* slab caches (nf_tables
// charges elements to the memory cgroup; those caches see little other
// traffic) is divided by the count, 3 rounds interleaving the families, a
// fresh namespace each. The figures behind ruleset's element estimate.
func BenchmarkElementMemory(b *testing.B) {
	netns.RequireRoot(b, "ip", "nft")
	const n = 100000
	dir := b.TempDir()
	files := map[string]string{}
	for _, fam := range []string{"ipv4", "ipv6"} {
		var s strings.Builder
		fmt.Fprintf(&s, "table inet knockc {\n\tset s {\n\t\ttype %s_addr\n\t\tsize 200000\n\t\tflags dynamic,timeout\n\t\ttimeout 5m\n\t}\n}\nadd element inet knockc s {", fam)
		for i := range n {
			if i > 0 {
				s.WriteString(", ")
			}
			if fam == "ipv4" {
				fmt.Fprintf(&s, "10.%d.%d.%d", i>>16, (i>>8)&255, i&255)
			} else {
				fmt.Fprintf(&s, "fd00::%x:%x", i>>16, i&0xffff)
			}
		}
		s.WriteString(" }\n")
		files[fam] = filepath.Join(dir, fam+".nft")
		if err := os.WriteFile(files[fam], []byte(s.String()), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	got := map[string][]float64{}
	for range b.N {
		for range 3 {
			for _, fam := range []string{"ipv4", "ipv6"} {
				ns, err := netns.Create("kccelem")
				if err != nil {
					b.Fatal(err)
				}
				before := slabCgBytes(b)
				_, err = ns.Exec("nft", "-f", files[fam])
				after := slabCgBytes(b)
				if rerr := ns.Remove(); rerr != nil {
					b.Fatal(rerr)
				}
				if err != nil {
					b.Fatal(err)
				}
				got[fam] = append(got[fam], float64(after-before)/n)
				time.Sleep(time.Second) // the kernel frees a namespace's tables in a worker, later
			}
		}
	}
	for _, fam := range []string{"ipv4", "ipv6"} {
		m := median(got[fam])
		b.ReportMetric(m, "B/element-"+fam)
		b.Logf("%s: median %.0f B/element (rounds %s)", fam, m, fmtRounds(got[fam]))
	}
}

// slabCgBytes returns the bytes in use in the kmalloc-cg-* slab caches.
func slabCgBytes(b *testing.B) int64 {
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
		active, err1 := strconv.ParseInt(f[1], 10, 64)
		size, err2 := strconv.ParseInt(f[3], 10, 64)
		if err1 != nil || err2 != nil {
			b.Fatalf("/proc/slabinfo: %q", l)
		}
		total += active * size
	}
	return total
}
