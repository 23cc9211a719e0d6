//go:build linux

package monitor_test

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/internal/monitor"
	"github.com/knockc/knockc/internal/testenv"
	"github.com/knockc/knockc/internal/testenv/netns"
	"github.com/knockc/knockc/ruleset"
	"github.com/knockc/knockc/ruleset/nftkernel"
)

// guardSpec is an unmanaged door: with its table gone, port 22 answers
// everyone (the listener is up), which is what a restore must end.
func guardSpec(protect string) string {
	return `[door.ssh]
sequence = ["7000/tcp", "8000/tcp", "9000/tcp"]
protect  = [` + protect + `]
open_for = "1m"
`
}

// guardEnv is a server namespace with a listener on 22, a client, and a
// guard with --apply behaviour running in-process on notifications.
type guardEnv struct {
	t        testing.TB
	pair     *netns.Pair
	listener *netns.Listener
	conn     *nftkernel.Conn // the guard's
	reader   *nftkernel.Conn // the test's: a google/nftables connection is not for two goroutines' dumps at once
	guard    *monitor.Guard
	log      *testenv.Buffer
	restores chan restore
}

type restore struct {
	why  string
	took time.Duration
}

func newGuardEnv(t testing.TB, spec string) *guardEnv {
	t.Helper()
	netns.RequireRoot(t, "ip", "nft")
	pair := netns.NewPair(t)
	conn, err := nftkernel.Open(pair.Server.Path())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	reader, err := nftkernel.Open(pair.Server.Path())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reader.Close() })
	e := &guardEnv{t: t, pair: pair, conn: conn, reader: reader, log: &testenv.Buffer{}, restores: make(chan restore, 64)}
	e.guard = monitor.NewGuard(conn, slog.New(slog.NewTextHandler(e.log, nil)), true)
	e.guard.Restored = func(why string, took time.Duration) { e.restores <- restore{why, took} }
	if err := e.guard.Apply(compile(t, spec)); err != nil {
		t.Fatalf("guard.Apply() = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	changes := make(chan nftkernel.Change, 1)
	w, err := conn.Watch(ctx, changes)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); e.guard.Run(ctx, changes, time.Minute) }()
	t.Cleanup(func() { cancel(); w.Close(); <-done })
	e.listener = pair.Server.Listen(t, 22)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("guard log:\n%s", e.log.String())
		}
	})
	return e
}

func compile(t testing.TB, spec string) *ruleset.Table {
	t.Helper()
	s, err := compiler.Parse("test.toml", []byte(spec))
	if err != nil {
		t.Fatalf("Parse(spec) = %v", err)
	}
	return compiler.Compile(s)
}

// waitRestored waits for the guard's next restore and returns it.
func (e *guardEnv) waitRestored(fault string) restore {
	e.t.Helper()
	select {
	case r := <-e.restores:
		return r
	case <-time.After(10 * time.Second):
		e.t.Fatalf("%s: no restore within 10 s; guard log:\n%s", fault, e.log.String())
	}
	return restore{}
}

// wantTable fails unless the kernel's table equals want and carries spec.
func (e *guardEnv) wantTable(what string, want *ruleset.Table, spec string) {
	e.t.Helper()
	have, own, mark, err := e.reader.ReadOwned(want.Name)
	if err != nil || own != nftkernel.Owned || mark.Spec != spec {
		e.t.Fatalf("%s: ReadOwned = %v, %+v, %v; want owned, spec %s", what, own, mark, err, spec)
	}
	if p := ruleset.Diff(want, have); !p.Empty() {
		e.t.Fatalf("%s: table differs from what was applied:\n%s", what, p)
	}
}

// faults are what other tools do to knockc's table.
var faults = []struct {
	name string
	cmd  string
	why  string // what the guard must say it repaired
}{
	{"nft flush ruleset", "flush ruleset", "table deleted"},
	{"nft delete table", "delete table inet knockc", "table deleted"},
	{"nft flush table", "flush table inet knockc", "rules flushed"},
	{"nft delete chain input", "delete chain inet knockc input", "drift: "},
	{"nft flush chain ssh_gate", "flush chain inet knockc ssh_gate", "drift: "},
}

// Every fault is noticed from nf_tables' notifications and repaired to
// exactly what was applied, and an unknocked client is refused afterwards.
func TestIntegrationGuardRestoresAfterEveryFault(t *testing.T) {
	t.Parallel()
	spec := guardSpec(`"22/tcp"`)
	e := newGuardEnv(t, spec)
	want := compile(t, spec)
	hash := nftkernel.SpecHash(want)
	for _, f := range faults {
		e.pair.Server.Run(t, "nft", f.cmd)
		r := e.waitRestored(f.name)
		if !strings.HasPrefix(r.why, f.why) {
			t.Errorf("%s: guard repaired %q, want %q", f.name, r.why, f.why)
		}
		t.Logf("%s: %s, restored in %s", f.name, r.why, r.took)
		e.wantTable(f.name, want, hash)
		if got := e.pair.Primary.Connect(e.pair.ServerV4, 22, 400*time.Millisecond); got != netns.Refused {
			t.Fatalf("%s: unknocked connect after the restore = %s, want refused", f.name, got)
		}
	}
}

// A spec applied by someone else after the guard's own is kept: after a
// flush the guard restores it, not its own older spec, and says so.
func TestIntegrationGuardRestoresTheNewerSpec(t *testing.T) {
	t.Parallel()
	e := newGuardEnv(t, guardSpec(`"22/tcp"`))
	newer := compile(t, guardSpec(`"22/tcp", "2222/tcp"`))
	other, err := nftkernel.Open(e.pair.Server.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Update(newer, nftkernel.UpdateOptions{}); err != nil { // knockc apply B
		t.Fatalf("Update(newer) = %v", err)
	}
	waitUntil(t, 10*time.Second, "the guard to take the newer spec on", func() bool {
		_, mark := e.guard.Last()
		return mark.Spec == nftkernel.SpecHash(newer)
	})
	if !strings.Contains(e.log.String(), "a newer spec was applied") {
		t.Errorf("guard log lacks the warning:\n%s", e.log.String())
	}
	e.pair.Server.Run(t, "nft", "flush ruleset")
	e.waitRestored("flush after a newer spec")
	e.wantTable("restored after a newer spec", newer, nftkernel.SpecHash(newer))
}

// BenchmarkRestore measures, for each fault, the time from the guard
// seeing the kernel's notification to the table being restored (p50 and
// max over 20 trials) and how many connections from a client that never
// knocked completed meanwhile: it connects to the protected port in a loop
// (each attempt answered at once, by a RST or a SYN-ACK).
//
//	CI=true go test -run '^$' -bench Restore -benchtime 1x ./internal/monitor/
func BenchmarkRestore(b *testing.B) {
	for range b.N {
		e := newGuardEnv(b, guardSpec(`"22/tcp"`))
		for _, f := range faults {
			var stop atomic.Bool
			var tries atomic.Int64
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { // the unknocked client, hammering port 22
				defer wg.Done()
				for !stop.Load() {
					e.pair.Primary.Connect(e.pair.ServerV4, 22, 50*time.Millisecond)
					tries.Add(1)
				}
			}()
			time.Sleep(50 * time.Millisecond)
			before := e.listener.Accepted()
			var took []time.Duration
			for range 20 {
				e.pair.Server.Run(b, "nft", f.cmd)
				took = append(took, e.waitRestored(f.name).took)
				time.Sleep(20 * time.Millisecond)
			}
			stop.Store(true)
			wg.Wait()
			sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
			fmt.Printf("restore after %-26s p50 %6.2f ms  max %6.2f ms  (20 trials)  unknocked connects accepted: %d of %d attempts\n",
				f.name+":", ms(took[len(took)/2]), ms(took[len(took)-1]), e.listener.Accepted()-before, tries.Load())
		}
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// waitUntil polls cond every 10 ms for up to d, failing the test after.
func waitUntil(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
