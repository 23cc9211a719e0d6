//go:build linux

package topup_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/knockc/knockc/internal/testenv"
	"github.com/knockc/knockc/internal/token"
	"github.com/knockc/knockc/ruleset"
)

// BenchmarkTokenFlood is docs/tokens.md's flood, at full length: 20,000
// forged datagrams a second (random 16-byte payloads from random sources
// of the client's subnet) at the token port for 10 s, while knockc's
// monitor runs (as a process, `knockc monitor`) and a client sends a real
// token every 200 ms. It reports the share of real tokens that opened, the
// forged opens (grants to anyone but the client), the token set's size
// before and after (it loses only spent and expired tokens), and the
// monitor's CPU time and RSS over the flood: it sees only real tokens'
// events.
func BenchmarkTokenFlood(b *testing.B) {
	const rate, dur = 20000, 10 * time.Second
	e := newTokenEnv(b, "")
	bin := filepath.Join(b.TempDir(), "knockc")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/knockc").CombinedOutput(); err != nil {
		b.Fatalf("build knockc: %v\n%s", err, out)
	}
	out := &testenv.Buffer{}
	mon := exec.Command("ip", "netns", "exec", e.server.Name, bin, "monitor", "--log-format", "json", filepath.Join(e.dir, "knock.toml"))
	mon.Stdout, mon.Stderr = out, out
	mon.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := mon.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { mon.Process.Kill(); mon.Wait() }()
	for end := time.Now().Add(10 * time.Second); !strings.Contains(out.String(), `"monitor ready"`); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			b.Fatalf("monitor not ready:\n%s", out.String())
		}
	}
	f := ruleset.IPv4
	state := filepath.Join(e.dir, "alice.key.state")
	keepState(b, state, e.key)
	for b.Loop() {
		before := len(e.tokens())
		cpu0 := cpuTime(b, mon.Process.Pid)
		sent, opened, tried, forged := make(chan int, 1), 0, 0, 0
		go func() {
			var n int
			e.client.NS.Do(func() error {
				var err error
				n, err = floodUDP(context.Background(), netip.MustParsePrefix("198.18.1.0/24"), e.client.ServerV4, tokenPort, 16, rate, dur)
				return err
			})
			sent <- n
		}()
		for start := time.Now(); time.Since(start) < dur-500*time.Millisecond; time.Sleep(200 * time.Millisecond) {
			tok, _, err := token.Take(state, e.key, time.Now())
			if err != nil {
				b.Fatal(err)
			}
			tried++
			e.send(f, netip.Addr{}, tok[:])
			if e.waitGrant(f, e.src(f)) {
				opened++
			}
			for _, a := range e.grants(f) {
				if a != e.src(f) {
					forged++
				}
			}
			e.ungrant(f)
		}
		n := <-sent
		cpu := cpuTime(b, mon.Process.Pid) - cpu0
		b.ReportMetric(float64(n)/dur.Seconds(), "flood-pps")
		b.ReportMetric(100*float64(opened)/float64(tried), "%opened")
		b.ReportMetric(float64(forged), "forged-opens")
		b.ReportMetric(float64(before), "tokens-before")
		b.ReportMetric(float64(len(e.tokens())), "tokens-after")
		b.ReportMetric(float64(tried), "real-tokens")
		b.ReportMetric(float64(cpu.Milliseconds()), "monitor-cpu-ms")
		b.ReportMetric(float64(rssKiB(mon.Process.Pid))/1024, "monitor-rss-MiB")

	}
}

// cpuTime returns user+system CPU time of pid.
func cpuTime(b *testing.B, pid int) time.Duration {
	b.Helper()
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
func rssKiB(pid int) int {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			n, _ := strconv.Atoi(strings.Fields(l)[1])
			return n
		}
	}
	return 0
}
