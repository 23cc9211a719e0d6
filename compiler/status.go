package compiler

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/knockc/knockc/ruleset"
)

// SetRole is what a set of knockc's table holds, recovered from its name.
type SetRole struct {
	Door   string
	Kind   string // "grant", "pending", "step" or "window"
	Seq    Seq    // for step and window sets
	Step   int    // for step sets: sources that completed this step
	Family ruleset.Family
}

// ParseSetName recovers a set's role from its name (see StepSet, GrantSet…);
// it returns false for a name knockc does not make.
func ParseSetName(name string) (SetRole, bool) {
	var r SetRole
	switch {
	case strings.HasSuffix(name, "_v4"):
		r.Family = ruleset.IPv4
	case strings.HasSuffix(name, "_v6"):
		r.Family = ruleset.IPv6
	default:
		return r, false
	}
	rest := name[:len(name)-3]
	for _, kind := range []string{"grant", "pending"} {
		if d, ok := strings.CutSuffix(rest, "_"+kind); ok && d != "" {
			r.Door, r.Kind = d, kind
			return r, true
		}
	}
	i := strings.LastIndex(rest, "_")
	if i <= 0 {
		return r, false
	}
	last := rest[i+1:]
	j := strings.LastIndex(rest[:i], "_")
	if j <= 0 {
		return r, false
	}
	r.Door, r.Seq = rest[:j], Seq(rest[j+1:i])
	if r.Seq != Open && r.Seq != Close {
		return r, false
	}
	if last == "win" {
		r.Kind = "window"
		return r, true
	}
	k, err := strconv.Atoi(strings.TrimPrefix(last, "s"))
	if !strings.HasPrefix(last, "s") || err != nil || k < 1 {
		return r, false
	}
	r.Kind, r.Step = "step", k
	return r, true
}

// DoorStatus is what the kernel holds for one door right now. The CLI's
// views (internal/view) turn it into output; it has no JSON form itself.
type DoorStatus struct {
	Door       string
	InProgress []StepCount // sources mid-sequence, per step
	Pending    []Grant
	Grants     []Grant
	Sets       map[string]int // elements per set
	Capacity   map[string]int64
}

// StepCount is how many sources completed a step and await the next.
type StepCount struct {
	Seq     Seq
	Step    int
	Sources int
}

// Grant is one granted (or pending) address and the time it has left.
type Grant struct {
	Addr string
	Left time.Duration
}

// Status groups the sets of a table read back from the kernel by door.
// Sets whose names knockc does not make are left out.
func Status(t *ruleset.Table) []DoorStatus {
	byDoor := map[string]*DoorStatus{}
	steps := map[string]map[StepCount]int{}
	for _, s := range t.Sets {
		r, ok := ParseSetName(s.Name)
		if !ok {
			continue
		}
		ds := byDoor[r.Door]
		if ds == nil {
			ds = &DoorStatus{Door: r.Door, Sets: map[string]int{}, Capacity: map[string]int64{}}
			byDoor[r.Door] = ds
			steps[r.Door] = map[StepCount]int{}
		}
		ds.Sets[s.Name] = len(s.Elements)
		ds.Capacity[s.Name] = int64(s.Size)
		switch r.Kind {
		case "grant", "pending":
			for _, e := range s.Elements {
				g := Grant{Addr: e.Addr.String(), Left: e.Expires}
				if r.Kind == "grant" {
					ds.Grants = append(ds.Grants, g)
				} else {
					ds.Pending = append(ds.Pending, g)
				}
			}
		case "step":
			steps[r.Door][StepCount{Seq: r.Seq, Step: r.Step}] += len(s.Elements)
		}
	}
	out := make([]DoorStatus, 0, len(byDoor))
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

// KnockInterfaces returns the interfaces knocks count on in t, as the
// input chain's doors jumps name them (table.interfaces), or nil when
// knocks count on every interface.
func KnockInterfaces(t *ruleset.Table) []string {
	c := t.Chain(InputChain)
	if c == nil {
		return nil
	}
	var out []string
	for _, r := range c.Rules {
		if len(r.Stmts) != 2 {
			continue
		}
		i, ok := r.Stmts[0].(ruleset.IIFName)
		if v, isJump := r.Stmts[1].(ruleset.Verdict); ok && isJump && v.Kind == "jump" && v.Chain == DoorsChain {
			out = append(out, i.Name)
		}
	}
	return out
}

// AnswerPort returns the port t's stealth chain redirects non-granted
// packets to, and false when t has none (closed = "drop", or no doors).
func AnswerPort(t *ruleset.Table) (uint16, bool) {
	c := t.Chain(StealthChain)
	if c == nil {
		return 0, false
	}
	for _, r := range c.Rules {
		for _, s := range r.Stmts {
			if rd, ok := s.(ruleset.Redirect); ok {
				return rd.Port, true
			}
		}
	}
	return 0, false
}
