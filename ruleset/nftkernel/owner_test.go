//go:build linux

package nftkernel

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/internal/testenv/netns"
	"github.com/knockc/knockc/ruleset"
)

// ownerEnv is one namespace with a Conn into it.
func ownerEnv(t *testing.T) (*netns.NS, *Conn) {
	t.Helper()
	netns.RequireRoot(t, "ip", "nft")
	ns := netns.New(t, "kcf")
	conn, err := Open(ns.Path())
	if err != nil {
		t.Fatalf("Open(%q) = %v", ns.Path(), err)
	}
	t.Cleanup(func() { conn.Close() })
	return ns, conn
}

func compileSpec(t *testing.T, spec string) *ruleset.Table {
	t.Helper()
	return compiler.Compile(mustParse(t, spec))
}

// A table of knockc's name that another tool made is refused, with a
// message naming the override; adopted, it becomes knockc's and carries the
// mark, which survives nft's own listing and reloading of the table.
func TestIntegrationOwnerRefusesForeignTable(t *testing.T) {
	t.Parallel()
	ns, conn := ownerEnv(t)
	ns.Run(t, "nft", "add table inet knockc; add chain inet knockc forward { type filter hook forward priority 0; }; add set inet knockc blocklist { type ipv4_addr; }")
	want := compileSpec(t, classicSpec())
	_, err := conn.Update(want, UpdateOptions{})
	if !errors.Is(err, ErrNotOwned) || !strings.Contains(err.Error(), "--adopt") {
		t.Fatalf("Update(foreign table) = %v, want ErrNotOwned naming --adopt", err)
	}
	if out := ns.Run(t, "nft", "list table inet knockc"); !strings.Contains(out, "chain forward") || !strings.Contains(out, "set blocklist") {
		t.Fatalf("after a refused Update the foreign table changed:\n%s", out)
	}

	res, err := conn.Update(want, UpdateOptions{Adopt: true})
	if err != nil || !res.Sent || res.Ownership != Foreign {
		t.Fatalf("Update(adopt) = %+v, %v; want sent over a foreign table", res, err)
	}
	have, own, mark, err := conn.ReadOwned("knockc")
	if err != nil || own != Owned || mark.Spec != SpecHash(want) || time.Since(mark.Applied) > time.Minute {
		t.Fatalf("ReadOwned after adopt = %v, %+v, %v; want owned with spec %s applied now", own, mark, err, SpecHash(want))
	}
	if p := ruleset.Diff(want, have); !p.Empty() {
		t.Fatalf("Diff after adopt =\n%s\nwant none", p)
	}

	// The carrier round-trips through nft: list, delete, load the listing.
	listing := ns.Run(t, "nft", "list table inet knockc")
	if !strings.Contains(listing, `chain knockc_owner {`) || !strings.Contains(listing, `return comment "knockc owner spec=`+mark.Spec) {
		t.Fatalf("nft list table lacks the marker chain:\n%s", listing)
	}
	file := filepath.Join(t.TempDir(), "table.nft")
	if err := os.WriteFile(file, []byte(listing), 0o600); err != nil {
		t.Fatal(err)
	}
	ns.Run(t, "nft", "delete table inet knockc")
	ns.Run(t, "nft", "-f", file)
	if _, own, again, err := conn.ReadOwned("knockc"); err != nil || own != Owned || again.Spec != mark.Spec || !again.Applied.Equal(mark.Applied) {
		t.Fatalf("ReadOwned after nft -f of the listing = %v, %+v, %v; want %+v", own, again, err, mark)
	}

	// A flushed marker chain still says knockc's, but names no spec.
	ns.Run(t, "nft", "flush table inet knockc")
	if _, own, m, err := conn.ReadOwned("knockc"); err != nil || own != Owned || m.Known() {
		t.Fatalf("ReadOwned after nft flush table = %v, %+v, %v; want owned, spec unknown", own, m, err)
	}
}

// A batch carrying the generation it was planned from is refused whole
// when anything was committed in between, and commits when nothing was.
func TestIntegrationGenerationConflict(t *testing.T) {
	t.Parallel()
	ns, conn := ownerEnv(t)
	want := compileSpec(t, classicSpec())
	gen, err := conn.Generation()
	if err != nil {
		t.Fatal(err)
	}
	ops, err := planOps(want, nil, QueueNative)
	if err != nil {
		t.Fatal(err)
	}
	ns.Run(t, "nft", "add table inet other")
	if err := conn.flushAt(gen, ops); !errors.Is(err, ErrConflict) {
		t.Fatalf("flushAt(stale generation) = %v, want ErrConflict", err)
	}
	if have, err := conn.ReadConfig("knockc"); err != nil || have != nil {
		t.Fatalf("after a refused batch the table is %v (%v), want absent", have, err)
	}
	if gen, err = conn.Generation(); err != nil {
		t.Fatal(err)
	}
	if err := conn.flushAt(gen, ops); err != nil {
		t.Fatalf("flushAt(current generation) = %v", err)
	}
	if p, _, err := conn.Plan(want); err != nil || !p.Empty() {
		t.Fatalf("Plan after flushAt = %v, %v; want no changes", p, err)
	}
	// A rejected batch still names the object the kernel refused.
	gen, _ = conn.Generation()
	bad := append(ops[:1:1], op{"delete chain \"nope\"", func(n *nftables.Conn) { n.DelChain(&nftables.Chain{Name: "nope", Table: TableObj(want)}) }})
	if err := conn.flushAt(gen, bad); err == nil || !isRejection(err) {
		t.Fatalf("flushAt(bad batch) = %v, want a kernel rejection", err)
	}
}

// Two writers applying at once, 30 times each with the same spec and with
// spec A against spec B: the end table always equals one of the specs
// exactly, its plan is clean, and it carries that spec's mark. Conflicts
// the kernel reported (and Update retried) are logged.
func TestIntegrationConcurrentApply(t *testing.T) {
	t.Parallel()
	ns, conn := ownerEnv(t)
	a := compileSpec(t, classicSpec())
	b := compileSpec(t, classicSpec(`protect = ["22/tcp", "2222/tcp"]`, `step_timeout = "3s"`))
	for _, tc := range []struct {
		name  string
		specs [2]*ruleset.Table
	}{{"same spec", [2]*ruleset.Table{a, a}}, {"A vs B", [2]*ruleset.Table{a, b}}} {
		conflicts, sent := 0, 0
		for trial := 0; trial < 30; trial++ {
			if trial%2 == 0 {
				ns.Run(t, "nft", "flush ruleset") // start from an absent table
			}
			var wg sync.WaitGroup
			var results [2]UpdateResult
			var errs [2]error
			start := make(chan struct{})
			for i := range 2 {
				c, err := Open(ns.Path())
				if err != nil {
					t.Fatal(err)
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer c.Close()
					<-start
					results[i], errs[i] = c.Update(tc.specs[i], UpdateOptions{})
				}()
			}
			close(start)
			wg.Wait()
			for i := range 2 {
				if errs[i] != nil {
					t.Fatalf("%s trial %d: writer %d: Update = %v", tc.name, trial, i, errs[i])
				}
				conflicts += results[i].Attempts - 1
				if results[i].Sent {
					sent++
				}
			}
			have, own, mark, err := conn.ReadOwned("knockc")
			if err != nil || own != Owned {
				t.Fatalf("%s trial %d: ReadOwned = %v, %v", tc.name, trial, own, err)
			}
			pa, pb := ruleset.Diff(a, have), ruleset.Diff(b, have)
			switch {
			case pa.Empty() && mark.Spec == SpecHash(a):
			case pb.Empty() && mark.Spec == SpecHash(b):
			default:
				t.Fatalf("%s trial %d: end table equals neither spec (mark %s):\nvs A:\n%s\nvs B:\n%s", tc.name, trial, mark.Spec, pa, pb)
			}
		}
		t.Logf("%s: 30 trials, %d batches committed, %d conflicts refused by the kernel and retried", tc.name, sent, conflicts)
	}
}
