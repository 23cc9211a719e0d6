package view

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/knockc/knockc/internal/doorstate"
	"github.com/knockc/knockc/ruleset"
)

// Status is what `knockc status --json` prints: each door's live state.
type Status struct {
	FormatVersion string `json:"format_version"`
	Table         string `json:"table"`
	Doors         []Door `json:"doors"`
	// HeldSYNs is how held SYNs reach the monitor, or null when no door
	// holds them.
	HeldSYNs *HeldSYNs `json:"held_syns"`
	// KnockInterfaces are the interfaces knocks count on (table.interfaces),
	// [] when they count on all; protected ports are gated on every
	// interface regardless. MissingInterfaces are those of them (not
	// matching prefixes) the host lacks.
	KnockInterfaces   List[string] `json:"knock_interfaces"`
	MissingInterfaces List[string] `json:"missing_interfaces"`
	// Tokens are the token doors' keys (status FILE), [] when there are
	// none.
	Tokens List[TokenKey] `json:"tokens"`
}

// Door is the live state of one door. Every list is present, empty when
// there is nothing in it.
type Door struct {
	Name string `json:"door"`
	// InProgress counts sources mid-sequence, per sequence and step.
	InProgress []Step    `json:"in_progress"`
	Pending    []Address `json:"pending"` // knocked, waiting for the service
	Grants     []Address `json:"grants"`
	Sets       []Set     `json:"sets"`
}

// Step counts the sources that completed one step of a sequence and wait
// for the next knock.
type Step struct {
	Sequence string `json:"sequence"` // "open" or "close"
	Step     int    `json:"step"`
	Sources  int    `json:"sources"`
}

// Address is a granted or pending source and the time its entry has left.
type Address struct {
	Addr        string  `json:"addr"`
	LeftSeconds Seconds `json:"left_seconds"`
}

// Set is one of a door's sets: how full it is.
type Set struct {
	Name     string `json:"name"`
	Elements int    `json:"elements"`
	Capacity int64  `json:"capacity"`
}

// NewStatus builds the status view of table t read back from the kernel.
func NewStatus(t *ruleset.Table) *Status {
	v := &Status{FormatVersion: FormatVersion, Table: t.Name, Doors: []Door{}}
	if q := t.Queue(); q != nil {
		v.HeldSYNs = NewHeldSYNs(q, q.XT)
	}
	for _, d := range doorstate.Of(t) {
		door := Door{Name: d.Door, InProgress: []Step{}, Pending: addresses(d.Pending), Grants: addresses(d.Grants), Sets: []Set{}}
		for _, s := range d.InProgress {
			door.InProgress = append(door.InProgress, Step{Sequence: string(s.Seq), Step: s.Step, Sources: s.Sources})
		}
		for name, n := range d.Sets {
			door.Sets = append(door.Sets, Set{Name: name, Elements: n, Capacity: d.Capacity[name]})
		}
		sort.Slice(door.Sets, func(i, j int) bool { return door.Sets[i].Name < door.Sets[j].Name })
		v.Doors = append(v.Doors, door)
	}
	return v
}

func addresses(gs []doorstate.Grant) []Address {
	out := make([]Address, 0, len(gs))
	for _, g := range gs {
		out = append(out, Address{Addr: g.Addr, LeftSeconds: Seconds(g.Left)})
	}
	return out
}

// WriteText writes the status for people.
func (v *Status) WriteText(w io.Writer) {
	fmt.Fprintf(w, "table inet %s: %d %s\n", v.Table, len(v.Doors), plural(len(v.Doors), "door", "doors"))
	for _, d := range v.Doors {
		fmt.Fprintf(w, "\ndoor %s\n", d.Name)
		busy := 0
		for _, s := range d.InProgress {
			if s.Sources > 0 {
				fmt.Fprintf(w, "  %s sequence: %d %s past step %d\n", s.Sequence, s.Sources, plural(s.Sources, "source", "sources"), s.Step)
				busy++
			}
		}
		if busy == 0 {
			fmt.Fprintln(w, "  no knocks in progress")
		}
		for _, g := range d.Pending {
			fmt.Fprintf(w, "  pending %-39s %s left to start the service\n", g.Addr, time.Duration(g.LeftSeconds).Round(time.Second))
		}
		if len(d.Grants) == 0 {
			fmt.Fprintln(w, "  no grants")
		}
		for _, g := range d.Grants {
			fmt.Fprintf(w, "  granted %-39s %s left\n", g.Addr, time.Duration(g.LeftSeconds).Round(time.Second))
		}
	}
	if h := v.HeldSYNs; h != nil {
		fmt.Fprintf(w, "\nheld SYNs of pending knockers: queue %d, %s statement\n", h.Queue, h.Statement)
	}
	if len(v.KnockInterfaces) > 0 {
		fmt.Fprintf(w, "\nknocks count on: %s (protected ports are closed on every interface)\n", strings.Join(v.KnockInterfaces, ", "))
	}
	for _, m := range v.MissingInterfaces {
		fmt.Fprintf(w, "warning: %s\n", MissingInterface(m))
	}
}

// MissingInterface says what a listed interface the host lacks means for
// the doors (docs/stealth.md, "Gate everywhere").
func MissingInterface(name string) string {
	what := "no interface named"
	if strings.HasSuffix(name, "*") {
		what = "no interface matches"
	}
	return fmt.Sprintf("table.interfaces: %s %q here: knocks count only on listed interfaces, so none arrive through it; protected ports stay closed on every interface", what, name)
}
