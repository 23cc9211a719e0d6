package ruleset

import (
	"fmt"
	"strings"
)

// Action is what a plan does to one object.
type Action string

// The actions of a plan, with terraform's markers. A replacement destroys
// an object and creates it again in the same batch: a set whose definition
// changed, which loses its elements (knocks in progress, grants).
const (
	Create  Action = "create"  // +
	Update  Action = "update"  // ~
	Replace Action = "replace" // -/+
	Destroy Action = "destroy" // -
)

// Marker returns "+", "~", "-/+" or "-".
func (a Action) Marker() string {
	switch a {
	case Create:
		return "+"
	case Destroy:
		return "-"
	case Replace:
		return "-/+"
	}
	return "~"
}

// Change is what a plan does to one object of knockc's table.
type Change struct {
	Action Action     `json:"action"`
	Kind   ObjectKind `json:"kind"` // table, set or chain
	Name   string     `json:"name"`
	Lines  []string   `json:"lines,omitempty"` // nft text, each line marked "+ ", "- " or "  "
	// Resets is how many live elements (knocks in progress, grants) the
	// change throws away: a set whose definition changed must be recreated.
	Resets int `json:"resets,omitempty"`
}

// Plan is the difference between the table a spec wants and the one in the
// kernel. Sets are state: one whose definition is unchanged keeps its
// elements and does not appear here.
type Plan struct {
	Table   string   `json:"table"`
	Changes []Change `json:"changes"`
	// Ops is the transaction that carries the plan out (Transaction), in
	// the order apply sends it; empty when nothing changes.
	Ops []Op `json:"-"`
}

// Diff compares the wanted table with the one present in the kernel; either
// may be nil (nothing wanted: `down`; nothing present: first apply).
func Diff(want, have *Table) *Plan {
	p := &Plan{}
	switch {
	case want != nil:
		p.Table = want.Name
	case have != nil:
		p.Table = have.Name
	default:
		return p
	}
	if have == nil {
		have = &Table{Name: want.Name}
		p.add(Change{Action: Create, Kind: KindTable, Name: want.Name})
	}
	if want == nil {
		want = &Table{Name: have.Name}
		defer p.add(Change{Action: Destroy, Kind: KindTable, Name: have.Name})
	}
	for _, w := range want.Sets {
		h := have.Set(w.Name)
		switch {
		case h == nil:
			p.add(Change{Action: Create, Kind: KindSet, Name: w.Name, Lines: mark("+ ", w.Block(""))})
		case !w.SameDefinition(h):
			p.add(Change{Action: Replace, Kind: KindSet, Name: w.Name, Lines: lineDiff(h.Block(""), w.Block("")), Resets: len(h.Elements)})
		}
	}
	for _, h := range have.Sets {
		if want.Set(h.Name) == nil {
			p.add(Change{Action: Destroy, Kind: KindSet, Name: h.Name, Lines: mark("- ", h.Block("")), Resets: len(h.Elements)})
		}
	}
	for _, w := range want.Chains {
		h := have.Chain(w.Name)
		switch {
		case h == nil:
			p.add(Change{Action: Create, Kind: KindChain, Name: w.Name, Lines: mark("+ ", w.Block(""))})
		case w.Block("") != h.Block(""):
			p.add(Change{Action: Update, Kind: KindChain, Name: w.Name, Lines: lineDiff(h.Block(""), w.Block(""))})
		}
	}
	for _, h := range have.Chains {
		if want.Chain(h.Name) == nil {
			p.add(Change{Action: Destroy, Kind: KindChain, Name: h.Name, Lines: mark("- ", h.Block(""))})
		}
	}
	if !p.Empty() {
		p.Ops = transaction(want, have)
	}
	return p
}

func (p *Plan) add(c Change) { p.Changes = append(p.Changes, c) }

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool { return len(p.Changes) == 0 }

// Counts returns how many objects the plan adds, changes and destroys, as
// terraform counts them: a replacement is one add and one destroy.
func (p *Plan) Counts() (add, change, destroy int) {
	for _, c := range p.Changes {
		switch c.Action {
		case Create:
			add++
		case Update:
			change++
		case Replace:
			add++
			destroy++
		case Destroy:
			destroy++
		}
	}
	return
}

// Resets returns how many live set elements the plan throws away.
func (p *Plan) Resets() int {
	n := 0
	for _, c := range p.Changes {
		n += c.Resets
	}
	return n
}

// Summary returns terraform's closing line: "Plan: 1 to add, 2 to change,
// 0 to destroy." or "No changes."
func (p *Plan) Summary() string {
	if p.Empty() {
		return "No changes."
	}
	a, c, d := p.Counts()
	return fmt.Sprintf("Plan: %d to add, %d to change, %d to destroy.", a, c, d)
}

// String renders the plan for people: one block per object with its
// marker, the lines that change, and the summary line last.
func (p *Plan) String() string {
	var b strings.Builder
	for _, c := range p.Changes {
		b.WriteString(c.String())
	}
	b.WriteString(p.Summary())
	b.WriteString("\n")
	return b.String()
}

// String renders one change for people: a line with its marker, kind and
// name (and the live entries a replacement or destroy drops), then the nft
// lines that change, indented; every line ends in a newline.
func (c Change) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s", c.Action.Marker(), c.Kind, c.Name)
	switch {
	case c.Action == Replace:
		fmt.Fprintf(&b, " must be replaced (resets %d live %s)", c.Resets, plural(c.Resets, "entry", "entries"))
	case c.Action == Destroy && c.Resets > 0:
		fmt.Fprintf(&b, " (drops %d live %s)", c.Resets, plural(c.Resets, "entry", "entries"))
	}
	b.WriteString("\n")
	for _, l := range c.Lines {
		fmt.Fprintf(&b, "    %s\n", l)
	}
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// mark prefixes every line of text with m.
func mark(m, text string) []string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for i, l := range lines {
		lines[i] = m + l
	}
	return lines
}

// lineDiff returns the lines of two texts marked "- " (only in before),
// "+ " (only in after) or "  " (both), in order, by longest common
// subsequence. Unchanged runs longer than two lines are elided.
func lineDiff(before, after string) []string {
	a := strings.Split(strings.TrimRight(before, "\n"), "\n")
	b := strings.Split(strings.TrimRight(after, "\n"), "\n")
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []string
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			out = append(out, "  "+a[i])
			i++
			j++
		case i < len(a) && (j == len(b) || lcs[i+1][j] >= lcs[i][j+1]):
			out = append(out, "- "+a[i]) // old before new, as git and terraform show it
			i++
		default:
			out = append(out, "+ "+b[j])
			j++
		}
	}
	return elide(out)
}

// elide keeps changed lines with one line of context either side, plus the
// first and last line (the object's header and closing brace), and folds
// every other run of unchanged lines into "  ...".
func elide(lines []string) []string {
	keep := make([]bool, len(lines))
	for i, l := range lines {
		if i == 0 || i == len(lines)-1 {
			keep[i] = true
		}
		if !strings.HasPrefix(l, "  ") {
			for k := max(0, i-1); k <= min(len(lines)-1, i+1); k++ {
				keep[k] = true
			}
		}
	}
	var out []string
	for i, l := range lines {
		switch {
		case keep[i]:
			out = append(out, l)
		case i == 0 || keep[i-1]:
			out = append(out, "  ...")
		}
	}
	return out
}
