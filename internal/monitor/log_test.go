package monitor

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/knockc/knockc/compiler"
)

// recordHandler keeps every record's level, message and "event".
type recordHandler struct {
	mu    sync.Mutex
	lines []string
}

func (r *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (r *recordHandler) Handle(_ context.Context, rec slog.Record) error {
	ev := ""
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == "event" {
			ev = a.Value.String()
		}
		return true
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, rec.Level.String()+" "+ev+" "+rec.Message)
	return nil
}
func (r *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recordHandler) WithGroup(string) slog.Handler      { return r }

func (r *recordHandler) count(prefix string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, l := range r.lines {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

// TestStuckKnockerLogsOneError runs on the synctest bubble's clock: the
// 100 ms reconciles pass as soon as the monitor is idle.
func TestStuckKnockerLogsOneError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recordHandler{}
		h := startMonitor(t, managedSpec("1s"), func(h *harness) {
			h.svc.failStart(errNoStart)
			h.logger = slog.New(rec)
		})
		h.kernel.put("ssh_pending_v4", alice, 30*time.Second)
		h.events <- Event{Door: "ssh", Seq: compiler.Open, Addr: alice, At: time.Now()}
		// Reconcile runs every 100 ms: several retries.
		h.waitFor("retries", func() bool {
			return rec.count("DEBUG service_fail service did not start: knockers stay pending and it is retried at each reconcile (again)") >= 3
		})
		if n := rec.count("ERROR service_fail "); n != 1 {
			t.Errorf("%d error lines for one stuck knocker, want 1: %q", n, rec.lines)
		}
		h.svc.failStart(nil)
		h.waitFor("alice granted", func() bool { return h.kernel.has("ssh_grant_v4", alice) })
		if rec.count("INFO service_start service started") != 1 || rec.count("INFO open door opened") != 1 {
			t.Errorf("after recovery: log %q, want one service start and one open", rec.lines)
		}
	})
}
