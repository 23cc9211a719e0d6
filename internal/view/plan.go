package view

import (
	"fmt"
	"io"
	"strings"

	"github.com/knockc/knockc/ruleset"
)

// Action is what a plan does to one object, in the words of terraform's
// JSON plan.
type Action string

// The four actions of a plan. A replacement destroys an object and creates
// it again in the same batch: a set whose definition changed, which loses
// its elements (knocks in progress, grants).
const (
	Create  Action = "create"
	Update  Action = "update"
	Replace Action = "replace"
	Destroy Action = "destroy"
)

// Marker returns terraform's marker for the action: "+", "~", "-/+" or "-".
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

// actions maps the library's plan actions to the view's: the same words,
// kept apart so that the JSON schema does not move with the library.
var actions = map[ruleset.Action]Action{
	ruleset.Create: Create, ruleset.Update: Update, ruleset.Replace: Replace, ruleset.Destroy: Destroy,
}

// Change is one object a plan touches.
type Change struct {
	Action Action `json:"action"`
	Kind   string `json:"kind"` // "table", "set" or "chain"
	Name   string `json:"name"`
	// Lines are the object's nft text, each line marked "+ " (added),
	// "- " (removed) or "  " (context); empty for the table itself.
	Lines []string `json:"lines"`
	// Resets is how many live set elements the change throws away.
	Resets int `json:"resets"`
}

// Plan is what `knockc plan --json` prints: the changes apply would make.
type Plan struct {
	FormatVersion string   `json:"format_version"`
	Table         string   `json:"table"`
	Changes       []Change `json:"changes"`
	// Add, Change and Destroy count objects as terraform does: a
	// replacement counts once in Add and once in Destroy, and in Replace.
	Add     int `json:"add"`
	Change  int `json:"change"`
	Destroy int `json:"destroy"`
	Replace int `json:"replace"`
	// Resets is the sum of the changes' Resets: live entries lost.
	Resets int `json:"resets"`
	// Operations is the transaction apply sends, in order, one nft
	// command each ("add table inet knockc", "flush chain inet knockc
	// input", …): read as text, an nft -f script that does the same.
	Operations []string `json:"operations"`
	// Memory is what the wanted table's sets may take in the kernel.
	Memory Memory `json:"memory"`
	// HeldSYNs is how held SYNs reach the monitor, or null when no door
	// holds them.
	HeldSYNs *HeldSYNs `json:"held_syns"`
	// Tokens are the token doors' keys, [] when there are none.
	Tokens List[TokenKey] `json:"tokens"`

	text []string // each change as ruleset.Change renders it, for WriteText
}

// Memory is the kernel memory the sets of a table may take.
type Memory struct {
	Sets          int    `json:"sets"`
	MaxElements   uint64 `json:"max_elements"`
	FixedBytes    uint64 `json:"fixed_bytes"`     // hash tables, from the start
	MaxExtraBytes uint64 `json:"max_extra_bytes"` // more when every set is full (estimated)
}

// HeldSYNs says which NFQUEUE queue holds the SYNs of pending knockers and
// with which kernel statement.
type HeldSYNs struct {
	Queue uint16 `json:"queue"`
	// Statement is "queue" (nft's own, module nft_queue) or "xt" (the
	// xtables NFQUEUE target through nft_compat).
	Statement string `json:"statement"`
}

// NewHeldSYNs returns the held-SYN view of t, or nil when no door of t
// holds SYNs. xt says whether the kernel takes the xtables target.
func NewHeldSYNs(q *ruleset.Queue, xt bool) *HeldSYNs {
	if q == nil {
		return nil
	}
	h := &HeldSYNs{Queue: q.Num, Statement: "queue"}
	if xt {
		h.Statement = "xt"
	}
	return h
}

// NewMemory returns the memory view of the wanted table t.
func NewMemory(t *ruleset.Table) Memory {
	if t == nil {
		return Memory{}
	}
	elems, bytes := t.MaxMemory()
	return Memory{Sets: len(t.Sets), MaxElements: elems, FixedBytes: t.FixedMemory(), MaxExtraBytes: bytes}
}

// NewPlan builds the plan view of p for the wanted table want (nil when
// the table goes away).
func NewPlan(p *ruleset.Plan, want *ruleset.Table) *Plan {
	v := &Plan{FormatVersion: FormatVersion, Table: p.Table, Changes: []Change{}, Operations: []string{}, Memory: NewMemory(want)}
	for _, c := range p.Changes {
		ch := Change{Action: actions[c.Action], Kind: string(c.Kind), Name: c.Name, Lines: c.Lines, Resets: c.Resets}
		if ch.Lines == nil {
			ch.Lines = []string{}
		}
		switch ch.Action {
		case Create:
			v.Add++
		case Destroy:
			v.Destroy++
		case Replace:
			v.Replace++
			v.Add++
			v.Destroy++
		default:
			v.Change++
		}
		v.Resets += ch.Resets
		v.Changes = append(v.Changes, ch)
		v.text = append(v.text, c.String())
	}
	for _, op := range p.Ops {
		v.Operations = append(v.Operations, op.String())
	}
	return v
}

// Empty reports whether the plan changes nothing.
func (v *Plan) Empty() bool { return len(v.Changes) == 0 }

// Summary returns terraform's closing line: "Plan: 1 to add, 2 to change,
// 0 to destroy." or "No changes."
func (v *Plan) Summary() string {
	if v.Empty() {
		return "No changes."
	}
	return fmt.Sprintf("Plan: %d to add, %d to change, %d to destroy.", v.Add, v.Change, v.Destroy)
}

// WriteText writes the plan for people: one block per object with its
// marker and the lines that change, the summary line, a warning when live
// entries are reset, and the memory the sets take.
func (v *Plan) WriteText(w io.Writer) {
	if v.Empty() {
		writeNoChanges(w, v.Table)
		return
	}
	var b strings.Builder
	for _, t := range v.text {
		b.WriteString(t)
	}
	b.WriteString(v.Summary() + "\n")
	if v.Resets > 0 {
		fmt.Fprintf(&b, "Warning: %d live %s (knocks in progress or grants) will be reset.\n", v.Resets, plural(v.Resets, "entry", "entries"))
	}
	if !v.Empty() && v.Memory.Sets > 0 {
		b.WriteString(v.Memory.Line() + ".\n")
	}
	io.WriteString(w, b.String())
}

// Line says how much kernel memory the sets take, in one sentence
// without its full stop.
func (m Memory) Line() string {
	return fmt.Sprintf("%d sets hold at most %d elements: %.1f MiB of kernel memory for their hash tables from the start, about %.1f MiB more when all are full (%d B an IPv4 element, %d B an IPv6 or token one, measured)",
		m.Sets, m.MaxElements, float64(m.FixedBytes)/(1<<20), float64(m.MaxExtraBytes)/(1<<20), ruleset.ElementBytesV4, ruleset.ElementBytesV6)
}

// Apply is what `knockc apply --json` prints: the plan it carried out.
type Apply struct {
	Plan
	// Applied is true when a batch was sent (the plan was not empty).
	Applied bool `json:"applied"`
}

// NewApply builds the apply view of a plan that was carried out.
func NewApply(p *ruleset.Plan, want *ruleset.Table) *Apply {
	v := NewPlan(p, want)
	return &Apply{Plan: *v, Applied: !v.Empty()}
}

// WriteText writes the closing line of a successful apply.
func (v *Apply) WriteText(w io.Writer) {
	if v.Empty() {
		writeNoChanges(w, v.Table)
		return
	}
	fmt.Fprintf(w, "Apply complete! %d added, %d changed, %d destroyed.\n", v.Add, v.Change, v.Destroy)
}

// writeNoChanges writes the one sentence plan and apply both say when the
// kernel already holds the wanted table.
func writeNoChanges(w io.Writer, table string) {
	fmt.Fprintf(w, "No changes. Table inet %s is up to date.\n", table)
}
