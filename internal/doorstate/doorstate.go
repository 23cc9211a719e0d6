// Package doorstate says what the kernel holds for each door right now:
// sources mid-sequence per step, pending and granted addresses with the
// time they have left, and how full each set is. It reads a table read
// back from the kernel (ruleset/nftkernel) and recovers each set's door
// and role from its name (compiler.ParseSetName); knockc status and
// knockc demo print it through internal/view.
package doorstate

import (
	"sort"
	"time"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/ruleset"
)

// Door is what the kernel holds for one door right now.
type Door struct {
	Door       string
	InProgress []StepCount // sources mid-sequence, per step
	Pending    []Grant
	Grants     []Grant
	Sets       map[string]int   // elements per set
	Capacity   map[string]int64 // most elements per set
}

// StepCount is how many sources completed a step and await the next.
type StepCount struct {
	Seq     compiler.Seq
	Step    int
	Sources int
}

// Grant is one granted (or pending) address and the time it has left.
type Grant struct {
	Addr string
	Left time.Duration
}

// Of groups the sets of a table read back from the kernel by door. Sets
// whose names knockc does not make are left out.
func Of(t *ruleset.Table) []Door {
	byDoor := map[string]*Door{}
	steps := map[string]map[StepCount]int{}
	for _, s := range t.Sets {
		r, ok := compiler.ParseSetName(s.Name)
		if !ok {
			continue
		}
		ds := byDoor[r.Door]
		if ds == nil {
			ds = &Door{Door: r.Door, Sets: map[string]int{}, Capacity: map[string]int64{}}
			byDoor[r.Door] = ds
			steps[r.Door] = map[StepCount]int{}
		}
		ds.Sets[s.Name] = len(s.Elements)
		ds.Capacity[s.Name] = int64(s.Size)
		switch r.Kind {
		case compiler.GrantKind, compiler.PendingKind:
			for _, e := range s.Elements {
				g := Grant{Addr: e.Addr.String(), Left: e.Expires}
				if r.Kind == compiler.GrantKind {
					ds.Grants = append(ds.Grants, g)
				} else {
					ds.Pending = append(ds.Pending, g)
				}
			}
		case compiler.StepKind:
			steps[r.Door][StepCount{Seq: r.Seq, Step: r.Step}] += len(s.Elements)
		}
	}
	out := make([]Door, 0, len(byDoor))
	for name, ds := range byDoor {
		for sc, n := range steps[name] {
			sc.Sources = n
			ds.InProgress = append(ds.InProgress, sc)
		}
		sort.Slice(ds.InProgress, func(i, j int) bool {
			a, b := ds.InProgress[i], ds.InProgress[j]
			if a.Seq != b.Seq {
				return a.Seq > b.Seq // open before close
			}
			return a.Step < b.Step
		})
		for _, gs := range [][]Grant{ds.Grants, ds.Pending} {
			sort.Slice(gs, func(i, j int) bool { return gs[i].Addr < gs[j].Addr })
		}
		out = append(out, *ds)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Door < out[j].Door })
	return out
}
