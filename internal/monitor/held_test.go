//go:build linux

package monitor_test

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/internal/knock"
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
