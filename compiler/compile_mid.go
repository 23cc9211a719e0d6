package compiler

import (
	"time"

	"github.com/knockc/knockc/ruleset"
)

// Steps returns the knocks of the door's open or close sequence.
func (d *Door) Steps(s Seq) []Step {
	if s == Close {
		return d.CloseSequence
	}
	return d.Sequence
}

// maxMidSize caps a mid-sequence set: sized from every sequence's flood
// budget, a table of many doors would otherwise declare (and the kernel
// allocate hash buckets for) tens of millions of elements.
const maxMidSize = 1 << 20

// midSets are the table's mid-sequence sets (MidSet), one per family some
// sequence of two or more steps uses. Their timeout is the longest of any
// step or window set, so a source leaves them no sooner than it leaves
// the last of those; their size is the sum of every sequence's first-step
// budget over that timeout, capped at maxMidSize.
type midSets struct {
	timeout  time.Duration
	size     map[ruleset.Family]uint64
	families []ruleset.Family
}

// newMidSets sizes the mid-sequence sets of spec's doors.
func newMidSets(spec *Spec) *midSets {
	m := &midSets{size: map[ruleset.Family]uint64{}}
	for _, d := range spec.Doors {
		for _, s := range []Seq{Open, Close} {
			n := len(d.Steps(s))
			if n < 2 {
				continue
			}
			m.timeout = max(m.timeout, d.StepTimeout)
			if windowNeeded(d, n) {
				m.timeout = max(m.timeout, d.SeqTimeout)
			}
		}
	}
	for _, d := range spec.Doors {
		for _, s := range []Seq{Open, Close} {
			if len(d.Steps(s)) < 2 {
				continue
			}
			for _, f := range d.Families {
				if _, ok := m.size[f]; !ok {
					m.families = append(m.families, f)
				}
				m.size[f] += uint64(stepSetSize(d.FloodRate, m.timeout))
			}
		}
	}
	return m
}

// sets returns the mid-sequence sets, IPv4 first.
func (m *midSets) sets() []*ruleset.Set {
	var out []*ruleset.Set
	for _, f := range []ruleset.Family{ruleset.IPv4, ruleset.IPv6} {
		n, ok := m.size[f]
		if !ok {
			continue
		}
		out = append(out, &ruleset.Set{Name: MidSet(f), Family: f, Timeout: m.timeout, Size: uint32(min(n, maxMidSize))})
	}
	return out
}

// mark returns the statement that notes a source as mid-sequence; every
// rule that adds it to a step or window set runs it first, so that a full
// mid-sequence set stops the advance rather than hide it (docs/cost.md).
func (c *doorCompiler) mark(f ruleset.Family) ruleset.Stmt {
	return ruleset.SetSAddr{Op: ruleset.OpUpdate, Set: MidSet(f), Family: f}
}
