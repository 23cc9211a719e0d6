package view

import (
	"fmt"
	"io"
	"net/netip"
	"sort"
	"time"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/ruleset"
)

// Place is where a source stands on a door: a step of a sequence, pending
// (knocked, waiting for the service) or granted.
type Place struct {
	Door string
	Kind string // "step", "pending" or "grant"
	Seq  string // "open" or "close", for steps
	Step int    // for steps: the steps the source completed
}

// Snapshot is every source knockc's sets hold at one moment, with the
// time its entry has left.
type Snapshot map[Place]map[netip.Addr]time.Duration

// NewSnapshot reads the sets of t (read back with their elements) into a
// snapshot. Window sets (the whole-sequence timeout) and sets whose names
// knockc does not make are left out.
func NewSnapshot(t *ruleset.Table) Snapshot {
	s := Snapshot{}
	for _, set := range t.Sets {
		r, ok := compiler.ParseSetName(set.Name)
		if !ok || r.Kind == compiler.WindowKind {
			continue
		}
		p := Place{Door: r.Door, Kind: string(r.Kind)}
		if r.Kind == compiler.StepKind {
			p.Seq, p.Step = string(r.Seq), r.Step
		}
		for _, e := range set.Elements {
			if s[p] == nil {
				s[p] = map[netip.Addr]time.Duration{}
			}
			s[p][e.Addr] = e.Expires
		}
	}
	return s
}

// WatchEvent is one change `knockc watch` reports; with --json each is one
// line of JSON (format_version as everywhere).
type WatchEvent struct {
	FormatVersion string    `json:"format_version"`
	Time          time.Time `json:"time"`
	Door          string    `json:"door"`
	Addr          string    `json:"addr"`
	// Event is "step" (the source completed Step of Sequence), "pending",
	// "grant", "left_step" (it left the step sets without finishing: a
	// timeout, a wrong knock in strict mode), "left_pending" or
	// "grant_ended" (expired or closed).
	Event    string `json:"event"`
	Sequence string `json:"sequence"` // for step events; "" otherwise
	Step     int    `json:"step"`     // for step events; 0 otherwise
	// LeftSeconds is the time the new entry has, 0 for the left_* and
	// grant_ended events.
	LeftSeconds Seconds `json:"left_seconds"`
}

// Changes returns what happened between two snapshots, in a stable order
// (door, address, then the order of a knock: steps, pending, grant). A
// source that moved from one step to the next reports only its arrival.
func Changes(prev, next Snapshot, at time.Time) []WatchEvent {
	type key struct {
		door string
		addr netip.Addr
	}
	where := func(s Snapshot) map[key][]Place {
		m := map[key][]Place{}
		for p, addrs := range s {
			for a := range addrs {
				m[key{p.Door, a}] = append(m[key{p.Door, a}], p)
			}
		}
		return m
	}
	before, after := where(prev), where(next)
	keys := map[key]bool{}
	for k := range before {
		keys[k] = true
	}
	for k := range after {
		keys[k] = true
	}
	var out []WatchEvent
	for k := range keys {
		was, is := before[k], after[k]
		has := func(ps []Place, p Place) bool {
			for _, q := range ps {
				if q == p {
					return true
				}
			}
			return false
		}
		arrived := false
		for _, p := range is {
			if has(was, p) {
				continue
			}
			arrived = true
			ev := WatchEvent{FormatVersion: FormatVersion, Time: at, Door: k.door, Addr: k.addr.String(), Event: p.Kind,
				Sequence: p.Seq, Step: p.Step, LeftSeconds: Seconds(next[p][k.addr])}
			out = append(out, ev)
		}
		for _, p := range was {
			if has(is, p) {
				continue
			}
			ev := WatchEvent{FormatVersion: FormatVersion, Time: at, Door: k.door, Addr: k.addr.String()}
			switch p.Kind {
			case "grant":
				ev.Event = "grant_ended"
			case "pending":
				if has(is, Place{Door: k.door, Kind: "grant"}) {
					continue // pending became a grant: the grant says it
				}
				ev.Event = "left_pending"
			default:
				if arrived {
					continue // moved on to the next step, pending or granted
				}
				ev.Event, ev.Sequence, ev.Step = "left_step", p.Seq, p.Step
			}
			out = append(out, ev)
		}
	}
	order := map[string]int{"left_step": 0, "step": 1, "pending": 2, "left_pending": 3, "grant": 4, "grant_ended": 5}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Door != b.Door {
			return a.Door < b.Door
		}
		if a.Addr != b.Addr {
			return a.Addr < b.Addr
		}
		if order[a.Event] != order[b.Event] {
			return order[a.Event] < order[b.Event]
		}
		return a.Step < b.Step
	})
	return out
}

// WriteText writes the event as one line for people.
func (e WatchEvent) WriteText(w io.Writer) {
	left := time.Duration(e.LeftSeconds).Round(time.Second)
	var what string
	switch e.Event {
	case "step":
		what = fmt.Sprintf("knocked step %d of the %s sequence (%s left for the next)", e.Step, e.Sequence, left)
	case "left_step":
		what = fmt.Sprintf("dropped out of the %s sequence after step %d (too slow, or a wrong knock)", e.Sequence, e.Step)
	case "pending":
		what = fmt.Sprintf("pending: waits for the service (%s left)", left)
	case "left_pending":
		what = "no longer pending (the service did not start in time?)"
	case "grant":
		what = fmt.Sprintf("granted for %s", left)
	case "grant_ended":
		what = "grant ended (expired or closed)"
	}
	fmt.Fprintf(w, "%s door %s %s %s\n", e.Time.Format("15:04:05.000"), e.Door, e.Addr, what)
}
