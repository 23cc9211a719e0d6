package stealth

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Report holds every answer of a Run, field by field.
type Report struct {
	// Targets are the targets in order; the first two are the references:
	// two ports nothing listens on.
	Targets []Target
	Probes  []Probe
	answers map[answerKey][]Field
}

type answerKey struct {
	probe  string // family + name
	target string
	round  int
}

func probeID(p Probe) string { return p.Family() + " " + p.Name }

// add records the answers pkts to s.
func (r *Report) add(s *sent, pkts [][]byte) {
	if r.answers == nil {
		r.answers = map[answerKey][]Field{}
	}
	var f []Field
	switch len(pkts) {
	case 0:
		f = []Field{{"answer", "none"}}
	case 1:
		f = append([]Field{{"answer", "1 packet"}}, s.fields(pkts[0])...)
	default:
		f = append([]Field{{"answer", fmt.Sprintf("%d packets", len(pkts))}}, s.fields(pkts[0])...)
	}
	r.answers[answerKey{probeID(s.probe), s.target, s.round}] = f
}

// Cell is how one target's answers to one probe compare with the
// references' answers.
type Cell struct {
	// Diffs names each field that differs, with both values; empty when
	// the answers are the same.
	Diffs []string
}

// Equal reports whether the answers were the same in every field.
func (c Cell) Equal() bool { return len(c.Diffs) == 0 }

// Row is one probe's line of the stealth table.
type Row struct {
	Probe Probe
	// Volatile are the fields that differ among the reference answers
	// themselves (two unused ports, each probed Rounds times); they are
	// compared by shape (zero or not; varying or not), not by value.
	Volatile []string
	// Answer is what the first reference answered, in short.
	Answer string
	Cells  map[string]Cell // by target name, for every non-reference target
}

// Rows compares every non-reference target with the references, probe by
// probe.
func (r *Report) Rows() []Row {
	var rows []Row
	for _, p := range r.Probes {
		id := probeID(p)
		var refs [][]Field
		for _, t := range r.Targets[:2] {
			for round := 0; round < Rounds; round++ {
				refs = append(refs, r.answers[answerKey{id, t.Name, round}])
			}
		}
		row := Row{Probe: p, Cells: map[string]Cell{}, Answer: summary(refs[0])}
		names := fieldNames(refs...)
		volatile := map[string]bool{}
		for _, n := range names {
			v0 := value(refs[0], n)
			for _, ref := range refs[1:] {
				if value(ref, n) != v0 {
					volatile[n] = true
				}
			}
			if volatile[n] {
				row.Volatile = append(row.Volatile, n)
			}
		}
		for _, t := range r.Targets[2:] {
			var got [][]Field
			for round := 0; round < Rounds; round++ {
				got = append(got, r.answers[answerKey{id, t.Name, round}])
			}
			row.Cells[t.Name] = compare(refs, got, fieldNames(append(got, refs...)...), volatile)
		}
		rows = append(rows, row)
	}
	return rows
}

// compare checks got against refs: equal values for stable fields, the
// same shape for volatile ones.
func compare(refs, got [][]Field, names []string, volatile map[string]bool) Cell {
	var c Cell
	for _, n := range names {
		want := value(refs[0], n)
		if !volatile[n] {
			for i, g := range got {
				if v := value(g, n); v != want {
					c.Diffs = append(c.Diffs, fmt.Sprintf("%s: %s, want %s (round %d)", n, v, want, i+1))
					break
				}
			}
			continue
		}
		// Volatile: zero-ness must match, and a field that varies from
		// flow to flow at the references must vary here too.
		refZero, gotZero := zeroes(refs, n), zeroes(got, n)
		if refZero != gotZero {
			c.Diffs = append(c.Diffs, fmt.Sprintf("%s: zero in %d of %d answers, want %d of %d (values %s; unused ports: %s)",
				n, gotZero, len(got), refZero*len(got)/len(refs), len(got), values(got, n), values(refs, n)))
			continue
		}
		if distinct(refs, n) == len(refs) && distinct(got, n) < len(got) {
			c.Diffs = append(c.Diffs, fmt.Sprintf("%s: the same in every answer (%s), where each unused-port answer differs (%s)",
				n, values(got, n), values(refs, n)))
		}
	}
	return c
}

func value(f []Field, name string) string {
	for _, x := range f {
		if x.Name == name {
			return x.Value
		}
	}
	return "(absent)"
}

func fieldNames(lists ...[]Field) []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range lists {
		for _, f := range l {
			if !seen[f.Name] {
				seen[f.Name] = true
				out = append(out, f.Name)
			}
		}
	}
	return out
}

// isZero reports whether a field's value is a number equal to zero.
func isZero(v string) bool {
	n, err := strconv.ParseUint(strings.TrimPrefix(v, "0x"), 16, 64)
	return err == nil && n == 0
}

func zeroes(lists [][]Field, name string) int {
	n := 0
	for _, l := range lists {
		if isZero(value(l, name)) {
			n++
		}
	}
	return n
}

func distinct(lists [][]Field, name string) int {
	seen := map[string]bool{}
	for _, l := range lists {
		seen[value(l, name)] = true
	}
	return len(seen)
}

func values(lists [][]Field, name string) string {
	var v []string
	for _, l := range lists {
		v = append(v, value(l, name))
	}
	return strings.Join(v, " ")
}

// summary says in a few words what an answer was.
func summary(f []Field) string {
	if value(f, "answer") == "none" {
		return "none"
	}
	if fl := value(f, "tcp.flags"); fl != "(absent)" {
		return "tcp " + fl
	}
	if t := value(f, "icmp.type"); t != "(absent)" {
		return "icmp " + t + "/" + value(f, "icmp.code")
	}
	return value(f, "answer")
}

// Table renders the stealth table: one line per probe, one column per
// compared target ("equal", or the names of the fields that differ), and
// the fields that vary between the unused ports themselves.
func (r *Report) Table() string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	head := []string{"family", "probe", "unused-port answer"}
	for _, t := range r.Targets[2:] {
		head = append(head, t.Name)
	}
	head = append(head, "varies between unused ports (compared by shape)")
	fmt.Fprintln(w, strings.Join(head, "\t"))
	for _, row := range r.Rows() {
		line := []string{row.Probe.Family(), row.Probe.Name, row.Answer}
		for _, t := range r.Targets[2:] {
			c := row.Cells[t.Name]
			if c.Equal() {
				line = append(line, "equal")
				continue
			}
			var n []string
			for _, d := range c.Diffs {
				n = append(n, d[:strings.Index(d, ":")])
			}
			line = append(line, "DIFFERENT: "+strings.Join(n, ","))
		}
		vol := strings.Join(row.Volatile, ",")
		if vol == "" {
			vol = "-"
		}
		line = append(line, vol)
		fmt.Fprintln(w, strings.Join(line, "\t"))
	}
	w.Flush()
	return b.String()
}

// Differences lists every difference with both values, one per line,
// sorted; empty when every target answered like an unused port.
func (r *Report) Differences() []string {
	var out []string
	for _, row := range r.Rows() {
		for t, c := range row.Cells {
			for _, d := range c.Diffs {
				out = append(out, fmt.Sprintf("%s %s -> %s: %s", row.Probe.Family(), row.Probe.Name, t, d))
			}
		}
	}
	sort.Strings(out)
	return out
}

// Answer returns the fields of the answer to probe p sent to the target
// named target in round (0-based): a single "answer" field of "none" when
// nothing came back, nil when no such probe was sent.
func (r *Report) Answer(p Probe, target string, round int) []Field {
	return r.answers[answerKey{probeID(p), target, round}]
}

// Value returns the value of the field named name in f, or "(absent)".
func Value(f []Field, name string) string { return value(f, name) }
