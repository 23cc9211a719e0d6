//go:build linux

package nftkernel

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/internal/testenv/netns"
	"github.com/knockc/knockc/ruleset"
)

// previousLayout returns t as knockc compiled it before the doors chain
// dispatched on the mid-sequence set (docs/cost.md): no mid-sequence sets
// nor doors_all chain, the doors chain jumping to every sequence, and one
// unconditional gate jump per door.
func previousLayout(t *ruleset.Table) *ruleset.Table {
	old := &ruleset.Table{Name: t.Name}
	mid := map[string]bool{compiler.MidSet(ruleset.IPv4): true, compiler.MidSet(ruleset.IPv6): true}
	for _, s := range t.Sets {
		if !mid[s.Name] {
			old.Sets = append(old.Sets, s)
		}
	}
	all := t.Chain(compiler.AllDoorsChain)
	for _, c := range t.Chains {
		if c.Name == compiler.AllDoorsChain {
			continue
		}
		oc := &ruleset.Chain{Name: c.Name, Hook: c.Hook}
		rules := c.Rules
		if c.Name == compiler.DoorsChain {
			rules = all.Rules
		}
		gated := map[string]bool{}
		for _, r := range rules {
			var st []ruleset.Stmt
			for _, s := range r.Stmts {
				if u, ok := s.(ruleset.SetSAddr); ok && mid[u.Set] {
					continue
				}
				st = append(st, s)
			}
			if v, ok := st[len(st)-1].(ruleset.Verdict); ok && c.Name == compiler.InputChain && v.Kind == ruleset.VerdictJump && v.Chain != compiler.DoorsChain {
				if gated[v.Chain] {
					continue
				}
				gated[v.Chain] = true
				st = st[len(st)-1:]
			}
			oc.Rules = append(oc.Rules, &ruleset.Rule{Stmts: st, Comment: r.Comment})
		}
		old.Chains = append(old.Chains, oc)
	}
	return old
}

// A table applied by the previous layout moves to the mid-sequence
// dispatch in one apply: the plan creates the mid-sequence sets and the
// doors_all chain and rewrites chains, recreates no set and resets no
// live entry; a knock begun under the previous layout finishes under the
// new one (the apply seeds the mid-sequence set from the step sets), and
// a grant made under it still holds.
func TestIntegrationMigrateFromPreviousLayout(t *testing.T) {
	t.Parallel()
	e := newKnockEnv(t, classicSpec())
	want := compiler.Compile(e.spec)
	old := previousLayout(want)
	if err := e.conn.Delete(want.Name); err != nil {
		t.Fatal(err)
	}
	if err := e.conn.Apply(old, nil); err != nil {
		t.Fatalf("Apply(previous layout) = %v", err)
	}
	granted, halfway := e.pair.Primary, e.pair.AddClient(t)
	e.knock(granted, v4, "7000/tcp", "8000/tcp", "9000/tcp")
	e.knock(halfway, v4, "7000/tcp")
	// Mid-sequence now: halfway (open, step 1) and granted, whose last
	// open knock was also the close sequence's first.
	inSteps := map[string]bool{}
	for _, s := range e.read().Sets {
		if r, ok := compiler.ParseSetName(s.Name); ok && r.Kind == compiler.StepKind {
			for _, el := range s.Elements {
				inSteps[el.Addr.String()] = true
			}
		}
	}
	if len(inSteps) != 2 {
		t.Fatalf("step sets under the previous layout hold %v, want the 2 clients", inSteps)
	}

	plan := e.apply(classicSpec())
	var got []string
	for _, c := range plan.Changes {
		got = append(got, c.Action.Marker()+" "+string(c.Kind)+" "+c.Name)
	}
	slices.Sort(got)
	wantChanges := []string{
		"+ chain doors_all",
		"+ set knock_mid_v4",
		"+ set knock_mid_v6",
		"~ chain doors",
		"~ chain input",
		"~ chain ssh_close",
		"~ chain ssh_open",
	}
	if diff := cmp.Diff(wantChanges, got); diff != "" {
		t.Fatalf("plan from the previous layout (-want +got):\n%s\n%s", diff, plan)
	}
	if plan.Resets() != 0 {
		t.Fatalf("plan from the previous layout resets %d live entries, want 0:\n%s", plan.Resets(), plan)
	}
	var seeded []string
	for _, el := range e.read().Set(compiler.MidSet(ruleset.IPv4)).Elements {
		seeded = append(seeded, el.Addr.String())
		if !inSteps[el.Addr.String()] {
			t.Errorf("%s holds %s, which was in no step set", compiler.MidSet(ruleset.IPv4), el.Addr)
		}
	}
	if len(seeded) != len(inSteps) {
		t.Fatalf("%s after the migration holds %v, want the sources of the step sets %v", compiler.MidSet(ruleset.IPv4), seeded, inSteps)
	}
	e.wantConnect(granted, v4, netns.Open, "a grant made under the previous layout")
	e.knock(halfway, v4, "8000/tcp", "9000/tcp")
	e.wantConnect(halfway, v4, netns.Open, "a knock begun under the previous layout")
}
