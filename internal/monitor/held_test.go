//go:build linux

package monitor_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/internal/knock"
	"github.com/knockc/knockc/internal/testenv/flood"
	"github.com/knockc/knockc/ruleset"
)

// knockThenConnect knocks with knockc's client and then makes ONE plain
// connect to the protected port, as a user's ssh does: no retries of its
// own, only the kernel's SYN retransmissions. It returns how long the
// connect took from the last knock.
func (e *sshEnv) knockThenConnect(dst netip.Addr, timeout time.Duration) (time.Duration, error) {
	c := e.pair.Primary
	steps := []compiler.Step{{Port: 7000, Proto: ruleset.TCP}, {Port: 8000, Proto: ruleset.TCP}, {Port: 9000, Proto: ruleset.TCP}}
	var took time.Duration
	err := c.NS.Do(func() error {
		if err := knock.KnockAddr(context.Background(), dst, steps, knock.Options{Delay: knock.DefaultDelay}); err != nil {
			return err
		}
		t0 := time.Now()
		conn, err := (&net.Dialer{Timeout: timeout}).Dial("tcp", net.JoinHostPort(dst.String(), strconv.Itoa(22)))
		took = time.Since(t0)
		if err == nil {
			conn.Close()
		}
		return err
	})
	return took, err
}

// With held SYNs the knocker's first SYN waits in the queue while sshd
// starts and completes the handshake as soon as it listens: no 1 s
// retransmission. The same door with pending = "drop" pays that second.
func TestIntegrationHeldSYNConnectsAtOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pending  string
		min, max time.Duration
	}{
		{"hold", 0, 700 * time.Millisecond},
		{"drop", 900 * time.Millisecond, 3 * time.Second},
	} {
		t.Run(tc.pending, func(t *testing.T) {
			t.Parallel()
			e := newSSHEnvWith(t, "1m", `pending = "`+tc.pending+`"`)
			e.startMonitor()
			for _, dst := range []netip.Addr{e.pair.ServerV4, e.pair.ServerV6} {
				took, err := e.knockThenConnect(dst, 5*time.Second)
				if err != nil {
					t.Fatalf("pending = %s: one connect to [%s]:22 after the knock: %v\nmonitor log:\n%s", tc.pending, dst, err, e.mon.out.String())
				}
				t.Logf("pending = %s: knock, then one connect to [%s]:22: %s", tc.pending, dst, took.Round(time.Millisecond))
				if took < tc.min || took > tc.max {
					t.Errorf("pending = %s: connect took %s, want between %s and %s", tc.pending, took, tc.min, tc.max)
				}
				// Close again, over the same family, so the next round
				// starts from a stopped sshd.
				closeSeq := []compiler.Step{{Port: 9000, Proto: ruleset.TCP}, {Port: 8000, Proto: ruleset.TCP}, {Port: 7000, Proto: ruleset.TCP}}
				if err := e.pair.Primary.NS.Do(func() error {
					return knock.KnockAddr(context.Background(), dst, closeSeq, knock.Options{Delay: knock.DefaultDelay})
				}); err != nil {
					t.Fatal(err)
				}
				e.waitFor("sshd stopped", func() bool { return !e.sshd.Running() })
			}
		})
	}
}

// queueStats reads the server's nfnetlink_queue line for knockc's queue:
// packets the kernel ever queued (id_sequence) and dropped for overflow.
func (e *sshEnv) queueStats(num int) (queued, dropped int) {
	e.t.Helper()
	out, err := e.pair.Server.Exec("cat", "/proc/net/netfilter/nfnetlink_queue")
	if err != nil {
		return 0, 0 // no queue bound yet
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 8 && f[0] == strconv.Itoa(num) {
			queued, _ = strconv.Atoi(f[7])
			dropped, _ = strconv.Atoi(f[5])
			return queued, dropped
		}
	}
	return 0, 0
}

// Only pending knockers' packets ever reach userspace: a scan of the
// protected, knock and other ports queues nothing; the knocker's SYN does.
func TestIntegrationScannerNeverReachesTheQueue(t *testing.T) {
	t.Parallel()
	e := newSSHEnv(t, "1m")
	e.startMonitor()
	scanner := e.pair.AddClient(t)
	for port := 1; port <= 1100; port++ {
		scanner.Connect(scanner.ServerV4, uint16(port), 50*time.Millisecond)
	}
	// A sequential scan across the knock ports, as nmap -r does: strict
	// mode keeps it from opening the door, so its later SYNs to 22 are
	// rejected in the kernel, never queued.
	for port := 6990; port <= 9010; port++ {
		scanner.KnockTCP(scanner.ServerV4, uint16(port))
	}
	for i := 0; i < 3; i++ {
		scanner.Connect(scanner.ServerV4, 22, 50*time.Millisecond)
	}
	if queued, _ := e.queueStats(compiler.DefaultLogGroup); queued != 0 {
		t.Fatalf("after a scan, the kernel queued %d packets to knockc, want 0", queued)
	}
	if _, err := e.knockThenConnect(e.pair.ServerV4, 5*time.Second); err != nil {
		t.Fatalf("knock + connect: %v", err)
	}
	if queued, _ := e.queueStats(compiler.DefaultLogGroup); queued < 1 {
		t.Fatalf("after the knocker's connect, the kernel queued %d packets, want ≥ 1 (the counter must see held SYNs)", queued)
	}
}

// Fail closed: with no monitor bound, a pending knocker's SYN is dropped,
// not let through; once the monitor is up, the client's own retransmission
// gets in.
func TestIntegrationHeldSYNFailsClosedWithoutMonitor(t *testing.T) {
	t.Parallel()
	e := newSSHEnv(t, "1m")
	type result struct {
		took time.Duration
		err  error
	}
	done := make(chan result, 1)
	go func() {
		took, err := e.knockThenConnect(e.pair.ServerV4, 10*time.Second)
		done <- result{took, err}
	}()
	time.Sleep(400 * time.Millisecond) // the first SYN meets no monitor
	if e.sshd.Running() {
		t.Fatal("sshd runs without a monitor")
	}
	e.startMonitor()
	r := <-done
	if r.err != nil {
		t.Fatalf("connect after the monitor came up: %v\nmonitor log:\n%s", r.err, e.mon.out.String())
	}
	if r.took < 900*time.Millisecond {
		t.Fatalf("connect took %s: the first SYN must have been dropped (fail closed), want ≥ 1 s", r.took)
	}
	t.Logf("no monitor at the first SYN: connected on a retransmission after %s", r.took.Round(time.Millisecond))
}

// SIGKILL while the knocker's SYN is held: the kernel drops it, the
// restarted monitor's reconcile finishes the grant, and the client's
// retransmission gets in; nobody stays pending.
func TestIntegrationMonitorKilledWhileHolding(t *testing.T) {
	t.Parallel()
	e := newSSHEnv(t, "1m", "/bin/sh", "-c", `sleep 1.5; exec "$0" "$@"`)
	m := e.startMonitor()
	done := make(chan error, 1)
	go func() {
		_, err := e.knockThenConnect(e.pair.ServerV4, 15*time.Second)
		done <- err
	}()
	time.Sleep(500 * time.Millisecond) // knocked; SYN held; sshd still starting
	if queued, _ := e.queueStats(compiler.DefaultLogGroup); queued < 1 {
		t.Fatalf("no packet was held when the monitor was killed (queued %d)", queued)
	}
	m.kill(syscall.SIGKILL)
	e.startMonitor()
	if err := <-done; err != nil {
		t.Fatalf("connect after the monitor was killed holding its SYN: %v\nmonitor log:\n%s", err, e.mon.out.String())
	}
	e.waitFor("no source left pending", func() bool {
		out, _ := e.pair.Server.Exec("nft", "list", "set", "inet", "knockc", "ssh_pending_v4")
		return !strings.Contains(out, "elements")
	})
}

// An event storm larger than the monitor's buffers loses no knocker: 1000
// sources complete the sequence at once while the service takes 1.5 s to
// start, so events overflow the door's queue (or the kernel's NFLOG socket
// buffer); reconcile grants them all.
func TestIntegrationEventStormLosesNoKnocker(t *testing.T) {
	t.Parallel()
	e := newSSHEnv(t, "1m", "/bin/sh", "-c", `sleep 1.5; exec "$0" "$@"`)
	m := e.startMonitor()
	const n = 1000 // the default max_grants (1024) bounds the pending set
	var srcs []netip.Addr
	for i := 0; i < n; i++ {
		srcs = append(srcs, netip.AddrFrom4([4]byte{10, 77, byte(i / 250), byte(1 + i%250)}))
	}
	c := e.pair.Primary
	for _, p := range []uint16{7000, 8000, 9000} {
		if err := c.NS.Do(func() error { return flood.SYNs(srcs, c.ServerV4, p) }); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	granted := func() int {
		out, _ := e.pair.Server.Exec("nft", "-j", "list", "set", "inet", "knockc", "ssh_grant_v4")
		return strings.Count(out, `"10.77.`)
	}
	e.waitFor(fmt.Sprintf("all %d knockers granted", n), func() bool { return granted() == n })
	// The door's queue holds 256 events and the door was busy starting
	// the service: the storm must have overflowed it, or this test did not
	// exercise the reconcile path at all.
	if log := m.out.String(); !strings.Contains(log, "event left to reconcile") && !strings.Contains(log, "kernel dropped events") {
		t.Fatalf("no event was dropped on the way: the storm was too small to test reconcile\nmonitor log:\n%s", log)
	}
}
