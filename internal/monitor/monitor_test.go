package monitor

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/internal/testenv"
	"github.com/knockc/knockc/ruleset"
	"github.com/knockc/knockc/ruleset/nftkernel"
)

// harness runs a monitor over fakes for one test.
type harness struct {
	t      *testing.T
	kernel *fakeKernel
	svc    *fakeService
	verd   *fakeVerdicts
	events chan Event
	held   chan nftkernel.HeldPacket
	lost   chan struct{}
	calls  []string
	logger *slog.Logger // nil: discard
}

// managedSpec is a door whose service the monitor manages.
func managedSpec(openFor string) string {
	return `[door.ssh]
sequence       = ["7000/tcp", "8000/tcp", "9000/tcp"]
close_sequence = ["9000/tcp", "8000/tcp", "7000/tcp"]
protect        = ["22/tcp"]
open_for       = "` + openFor + `"
start_command  = ["/bin/true"]
stop_command   = ["/bin/true"]
`
}

func startMonitor(t *testing.T, spec string, prepare func(h *harness)) *harness {
	t.Helper()
	s, err := compiler.Parse("test.toml", []byte(spec))
	if err != nil {
		t.Fatalf("Parse(spec) = %v", err)
	}
	h := &harness{t: t, events: make(chan Event, 16), held: make(chan nftkernel.HeldPacket, 16), lost: make(chan struct{}, 1), verd: &fakeVerdicts{}}
	h.kernel = newFakeKernel(&h.calls)
	h.svc = &fakeService{log: &h.calls}
	if prepare != nil {
		prepare(h)
	}
	m, err := New(Config{Spec: s, Kernel: h.kernel, Services: map[string]Service{"ssh": h.svc}, Verdicts: h.verd, Reconcile: 100 * time.Millisecond, Logger: h.logger})
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m.Run(ctx, h.events, h.held, h.lost) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v", err)
		}
	})
	return h
}

// waitFor polls cond for up to 3 s. Tests that run in a synctest bubble
// poll on the bubble's clock: each sleep ends as soon as the monitor's
// goroutines are idle, so waiting for a 1 s open_for takes no real time.
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s; calls so far: %v", what, h.callLog())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (h *harness) callLog() []string {
	h.kernel.mu.Lock()
	defer h.kernel.mu.Unlock()
	return append([]string(nil), h.calls...)
}

var (
	alice = netip.MustParseAddr("198.18.1.2")
	bob   = netip.MustParseAddr("fd00:6b6e:1::2")
)

func TestOpenStartsServiceBeforeGranting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startMonitor(t, managedSpec("1s"), nil)
		h.kernel.put("ssh_pending_v4", alice, 30*time.Second)
		h.events <- Event{Door: "ssh", Seq: compiler.Open, Addr: alice, At: time.Now()}
		h.waitFor("alice granted", func() bool { return h.kernel.has("ssh_grant_v4", alice) })
		if h.kernel.has("ssh_pending_v4", alice) {
			t.Errorf("alice still pending after her grant")
		}
		calls := h.callLog()
		if len(calls) < 2 || calls[0] != "start" || calls[1] != "move 198.18.1.2 to ssh_grant_v4" {
			t.Fatalf("calls = %v, want the service started before the grant", calls)
		}
	})
}

func TestCloseStopsServiceWithTheLastGrant(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startMonitor(t, managedSpec("1m"), nil)
		for _, a := range []netip.Addr{alice, bob} {
			h.events <- Event{Door: "ssh", Seq: compiler.Open, Addr: a, At: time.Now()}
		}
		h.waitFor("both granted", func() bool {
			return h.kernel.has("ssh_grant_v4", alice) && h.kernel.has("ssh_grant_v6", bob)
		})
		// The kernel's close rule removes the grant before it logs the event.
		h.kernel.del("ssh_grant_v4", alice)
		h.events <- Event{Door: "ssh", Seq: compiler.Close, Addr: alice, At: time.Now()}
		time.Sleep(300 * time.Millisecond) // a few reconcile rounds
		if starts, stops, active := h.svc.counts(); starts != 1 || stops != 0 || !active {
			t.Fatalf("after one of two closes: starts %d stops %d active %v, want 1 0 true", starts, stops, active)
		}
		h.kernel.del("ssh_grant_v6", bob)
		h.events <- Event{Door: "ssh", Seq: compiler.Close, Addr: bob, At: time.Now()}
		h.waitFor("service stopped", func() bool { _, stops, _ := h.svc.counts(); return stops == 1 })
	})
}

func TestLastGrantExpiringStopsService(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startMonitor(t, managedSpec("1s"), nil)
		h.events <- Event{Door: "ssh", Seq: compiler.Open, Addr: alice, At: time.Now()}
		h.waitFor("alice granted", func() bool { return h.kernel.has("ssh_grant_v4", alice) })
		t0 := time.Now()
		h.waitFor("service stopped after open_for", func() bool { _, stops, _ := h.svc.counts(); return stops == 1 })
		if waited := time.Since(t0); waited < 700*time.Millisecond {
			t.Fatalf("service stopped %v after the grant, want about open_for (1s)", waited)
		}
	})
}

func TestReconcileServesPendingWhoseEventWasLost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startMonitor(t, managedSpec("1s"), func(h *harness) {
			h.kernel.put("ssh_pending_v6", bob, 30*time.Second) // knocked while the monitor was down
		})
		h.waitFor("bob granted without an event", func() bool { return h.kernel.has("ssh_grant_v6", bob) })
		if starts, _, _ := h.svc.counts(); starts != 1 {
			t.Fatalf("service starts = %d, want 1", starts)
		}
	})
}

func TestReconcileStartsServiceForOrphanGrant(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startMonitor(t, managedSpec("1m"), func(h *harness) {
			h.kernel.put("ssh_grant_v4", alice, time.Minute) // granted, but the service died
		})
		h.waitFor("service started for alice's grant", func() bool { _, _, active := h.svc.counts(); return active })
	})
}

func TestReconcileStopsIdleService(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startMonitor(t, managedSpec("1s"), func(h *harness) {
			h.svc.active = true // left running by an earlier monitor, no grant left
		})
		h.waitFor("idle service stopped", func() bool { _, stops, _ := h.svc.counts(); return stops == 1 })
	})
}

func TestFailedStartLeavesKnockerPendingUntilItWorks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startMonitor(t, managedSpec("1s"), func(h *harness) { h.svc.failStart(errNoStart) })
		h.kernel.put("ssh_pending_v4", alice, 30*time.Second)
		h.events <- Event{Door: "ssh", Seq: compiler.Open, Addr: alice, At: time.Now()}
		time.Sleep(300 * time.Millisecond)
		if h.kernel.has("ssh_grant_v4", alice) || !h.kernel.has("ssh_pending_v4", alice) {
			t.Fatalf("with the service failing: granted %v pending %v, want pending only", h.kernel.has("ssh_grant_v4", alice), h.kernel.has("ssh_pending_v4", alice))
		}
		h.svc.failStart(nil)
		h.waitFor("alice granted once the service starts", func() bool { return h.kernel.has("ssh_grant_v4", alice) })
	})
}

func TestHooksGetTheEventInTheirEnvironment(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "hook")
	hook := fmt.Sprintf(`["/bin/sh", "-c", "echo $KNOCKC_EVENT $KNOCKC_DOOR $KNOCKC_ADDR $KNOCKC_FAMILY >> %s"]`, out)
	spec := `[door.web]
sequence = ["7000/tcp"]
protect  = ["443/tcp"]
on_open  = ` + hook + `
on_close = ` + hook + `
`
	h := startMonitor(t, spec, nil)
	// An unmanaged door's last knock grants in the kernel, then logs.
	h.kernel.put("web_grant_v6", bob, 30*time.Second)
	h.events <- Event{Door: "web", Seq: compiler.Open, Addr: bob, At: time.Now()}
	h.waitFor("on_open ran", func() bool { b, _ := os.ReadFile(out); return len(b) > 0 })
	h.kernel.del("web_grant_v6", bob)
	h.events <- Event{Door: "web", Seq: compiler.Close, Addr: bob, At: time.Now()}
	want := "open web fd00:6b6e:1::2 ipv6\nclose web fd00:6b6e:1::2 ipv6\n"
	h.waitFor("on_close ran", func() bool { b, _ := os.ReadFile(out); return strings.Count(string(b), "\n") == 2 })
	if b, _ := os.ReadFile(out); string(b) != want {
		t.Fatalf("hook output = %q, want %q", b, want)
	}
	if h.kernel.moves != 0 {
		t.Errorf("unmanaged door: %d kernel moves, want 0 (the kernel grants by itself)", h.kernel.moves)
	}
}

func heldSYN(id uint32, from netip.Addr) nftkernel.HeldPacket {
	return nftkernel.HeldPacket{ID: id, Src: from, Port: 22, Proto: ruleset.TCP, At: time.Now()}
}

// A pending knocker's SYN waits in the queue and goes on once the grant is
// in place, not before; a granted source's packet goes on at once.
func TestHeldPacketReleasedOnGrant(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startMonitor(t, managedSpec("1m"), func(h *harness) { h.svc.failStart(errNoStart) })
		h.kernel.put("ssh_pending_v4", alice, 30*time.Second)
		h.held <- heldSYN(1, alice)
		h.events <- Event{Door: "ssh", Seq: compiler.Open, Addr: alice, At: time.Now()}
		time.Sleep(200 * time.Millisecond)
		if v := h.verd.of(1); v != "" {
			t.Fatalf("held SYN got %q while the service could not start, want it still held", v)
		}
		h.svc.failStart(nil)
		h.waitFor("the held SYN released after the grant", func() bool { return h.verd.of(1) == "accept" })
		if !h.kernel.has("ssh_grant_v4", alice) {
			t.Fatal("held SYN released before alice's grant")
		}
		h.held <- heldSYN(2, alice)
		h.waitFor("a granted source's packet let go at once", func() bool { return h.verd.of(2) == "accept" })
	})
}

// A packet held past start_timeout is answered like a closed port: the
// source leaves pending and the packet meets the gate again.
func TestHeldPacketExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		spec := managedSpec("1m") + "start_timeout = \"1s\"\n"
		h := startMonitor(t, spec, func(h *harness) { h.svc.failStart(errNoStart) })
		h.kernel.put("ssh_pending_v6", bob, 30*time.Second)
		h.held <- heldSYN(7, bob)
		t0 := time.Now()
		h.waitFor("the held SYN sent back through the hook", func() bool { return h.verd.of(7) == "repeat" })
		if d := time.Since(t0); d < 900*time.Millisecond {
			t.Fatalf("held SYN let go after %v, want start_timeout (1s)", d)
		}
		if h.kernel.has("ssh_pending_v6", bob) {
			t.Fatal("bob still pending after his held SYN expired: the repeat would queue it again")
		}
	})
}

// A packet to a port no door protects is dropped, not held.
func TestHeldPacketForUnknownPortDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startMonitor(t, managedSpec("1m"), nil)
		hp := heldSYN(9, alice)
		hp.Port = 2222
		h.held <- hp
		h.waitFor("the stray packet dropped", func() bool { return h.verd.of(9) == "drop" })
	})
}

// With stop_when_idle = false the service stays up once started, whatever
// the grants do.
func TestServiceKeptWhenConfigured(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startMonitor(t, managedSpec("1s")+"stop_when_idle = false\n", func(h *harness) {
			h.svc.active = true // running, no grant: would be stopped by default
		})
		h.events <- Event{Door: "ssh", Seq: compiler.Open, Addr: alice, At: time.Now()}
		h.waitFor("alice granted", func() bool { return h.kernel.has("ssh_grant_v4", alice) })
		time.Sleep(1500 * time.Millisecond) // the grant (1s) ends; reconcile runs every 100ms
		if _, stops, active := h.svc.counts(); stops != 0 || !active {
			t.Fatalf("stop_when_idle = false: stops %d active %v, want the service left running", stops, active)
		}
	})
}

// countingVerdicts is a Verdicts that reports drop counts.
type countingVerdicts struct {
	fakeVerdicts
	drops atomic.Uint64
}

func (v *countingVerdicts) Drops() nftkernel.QueueDrops {
	return nftkernel.QueueDrops{Kernel: v.drops.Load()}
}

// The queue is bounded: when held packets are dropped for a full queue,
// the monitor says so, once per change.
func TestQueueDropsAreReported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := compiler.Parse("test.toml", []byte(managedSpec("1m")))
		if err != nil {
			t.Fatal(err)
		}
		var logs testenv.Buffer
		verd := &countingVerdicts{}
		var calls []string
		m, err := New(Config{Spec: s, Kernel: newFakeKernel(&calls), Services: map[string]Service{"ssh": &fakeService{log: &calls}},
			Verdicts: verd, Reconcile: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- m.Run(ctx, nil, nil, nil) }()
		verd.drops.Store(3)
		deadline := time.Now().Add(2 * time.Second)
		for !strings.Contains(logs.String(), "held packets dropped for a full queue") {
			if time.Now().After(deadline) {
				t.Fatalf("no warning about dropped held packets; log:\n%s", logs.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(200 * time.Millisecond) // more ticks, no new drops
		cancel()
		<-done
		if n := strings.Count(logs.String(), "held packets dropped"); n != 1 || !strings.Contains(logs.String(), "kernel=3") {
			t.Fatalf("warnings about drops = %d (log:\n%s), want one, with kernel=3", n, logs.String())
		}
	})
}
