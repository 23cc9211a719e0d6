//go:build linux

package monitor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/knockc/knockc/internal/testenv/flood"
	"github.com/knockc/knockc/internal/testenv/netns"
)

// percentile returns the p-th percentile (0–100) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(float64(len(s))*p/100))]
}

// BenchmarkHeldSYN measures held packets (docs/design.md): knock, then ONE plain connect
// (no userspace retries) to a managed door whose sshd starts on the knock,
// for 20 rounds, with pending = "hold" beside pending = "drop". Run it with
// -benchtime=1x; it reports p50/p95 of the connect time in ms.
func BenchmarkHeldSYN(b *testing.B) {
	for _, pending := range []string{"hold", "drop"} {
		b.Run("pending="+pending, func(b *testing.B) {
			e := newSSHEnvWith(b, "1m", `pending = "`+pending+`"`)
			e.startMonitor()
			const rounds = 20
			var took []time.Duration
			for i := 0; i < rounds; i++ {
				d, err := e.knockThenConnect(e.pair.ServerV4, 5*time.Second)
				if err != nil {
					b.Fatalf("round %d: %v", i, err)
				}
				took = append(took, d)
				e.knock(9000, 8000, 7000)
				e.waitFor("sshd stopped", func() bool { return !e.sshd.Running() })
			}
			b.ReportMetric(float64(percentile(took, 50).Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(percentile(took, 95).Microseconds())/1000, "p95-ms")
			b.ReportMetric(rounds, "rounds")
		})
	}
}

// BenchmarkEventToGrant measures the monitor's own cost: from the NFLOG
// event reaching it to the grant committed in the kernel, with the service
// already running (its start excluded). 50 knockers from distinct source
// addresses; reports p50/p95 in ms, from the monitor's "door opened" logs.
func BenchmarkEventToGrant(b *testing.B) {
	e := newSSHEnv(b, "1m")
	m := e.startMonitor()
	c := e.pair.Primary
	e.knock(7000, 8000, 9000) // starts sshd: the one grant that pays the start
	e.waitFor("sshd up", e.sshd.Running)
	const knockers = 50
	for i := 0; i < knockers; i++ {
		src := netip.AddrFrom4([4]byte{198, 18, 1, byte(100 + i)})
		c.AddAddr(b, netip.PrefixFrom(src, 24))
		for _, p := range []uint16{7000, 8000, 9000} {
			if err := c.KnockTCPFrom(src, c.ServerV4, p); err != nil {
				b.Fatal(err)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	var lat []time.Duration
	e.waitFor("all grants logged", func() bool {
		lat = latencies(m.out.String())
		return len(lat) >= knockers+1
	})
	lat = lat[1:] // the first grant waited for sshd to start
	b.ReportMetric(float64(percentile(lat, 50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(lat, 95).Microseconds())/1000, "p95-ms")
	b.ReportMetric(float64(len(lat)), "grants")
}

// latencies reads the event-to-grant latencies from the monitor's JSON log.
func latencies(log string) []time.Duration {
	var out []time.Duration
	for _, line := range strings.Split(log, "\n") {
		var rec struct {
			Msg     string `json:"msg"`
			Latency int64  `json:"latency"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "door opened" && rec.Latency > 0 {
			out = append(out, time.Duration(rec.Latency))
		}
	}
	return out
}

// BenchmarkFloodCPU puts knockc's monitor and knockd side by side under the
// same flood of partial knocks (spoofed SYNs at the knock ports, 20k/s for
// 5 s): it reports each one's CPU time during the flood and its RSS.
// knockc's monitor sees nothing of it (the kernel handles every packet);
// knockd parses every one.
func BenchmarkFloodCPU(b *testing.B) {
	netns.RequireRoot(b, "ip", "nft", "knockd")
	const rate, dur = 20000, 5 * time.Second
	run := func(b *testing.B, start func(e *sshEnv) int) {
		e := newSSHEnv(b, "1m")
		pid := start(e)
		// Over the link knockd listens on (it sniffs one interface).
		flooder := e.pair.Primary
		cpu0 := cpuTime(b, pid)
		var sent int
		flooder.NS.Do(func() error {
			var err error
			sent, err = flood.SYN(context.Background(), netip.MustParsePrefix("10.128.0.0/9"), flooder.ServerV4, []uint16{7000, 8000, 9000}, rate, dur)
			return err
		})
		cpu := cpuTime(b, pid) - cpu0
		b.ReportMetric(float64(cpu.Milliseconds()), "cpu-ms")
		b.ReportMetric(100*cpu.Seconds()/dur.Seconds(), "%core")
		b.ReportMetric(float64(rssKiB(b, pid))/1024, "rss-MiB")
		b.ReportMetric(float64(sent)/dur.Seconds(), "flood-pps")
	}
	b.Run("knockc-monitor", func(b *testing.B) {
		run(b, func(e *sshEnv) int {
			m := e.startMonitor()
			return monitorPID(b, m)
		})
	})
	b.Run("knockd", func(b *testing.B) {
		run(b, func(e *sshEnv) int {
			dir := b.TempDir()
			conf := filepath.Join(dir, "knockd.conf")
			os.WriteFile(conf, []byte("[options]\n\tLogFile = "+filepath.Join(dir, "knockd.log")+"\n[open]\n\tsequence = 7000,8000,9000\n\tseq_timeout = 10\n\ttcpflags = syn\n\tcommand = /bin/true\n"), 0o644)
			cmd := e.pair.Server.Start(b, "knockd", "-i", e.pair.ServerIf, "-c", conf)
			time.Sleep(300 * time.Millisecond) // pcap open
			return cmd.Process.Pid
		})
	})
}

// monitorPID finds knockc's pid under `ip netns exec`.
func monitorPID(b *testing.B, m *monitorProc) int {
	out, err := exec.Command("pgrep", "-P", strconv.Itoa(m.cmd.Process.Pid)).Output()
	if err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil {
			return pid
		}
	}
	return m.cmd.Process.Pid // ip netns exec execs the command itself
}

// cpuTime returns user+system CPU time of pid.
func cpuTime(b *testing.B, pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatalf("read stat of %d: %v", pid, err)
	}
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// rssKiB returns pid's resident set size.
func rssKiB(b *testing.B, pid int) int {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			n, _ := strconv.Atoi(strings.Fields(l)[1])
			return n
		}
	}
	return 0
}
