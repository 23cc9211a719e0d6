package compiler

import (
	"encoding"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// Load reads and validates the spec at path. The error lists every problem
// found, each as "file:line:col: message" (see Errors). It reads at most
// MaxSpecBytes+1 bytes and refuses a larger file.
func Load(path string) (*Spec, error) {
	data, err := readSpec(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse validates a spec held in memory; name stands for the file in
// positions. It never panics, whatever the input, and refuses input past
// the limits in limits.go before decoding it.
func Parse(name string, data []byte) (*Spec, error) {
	l := &loader{file: name, src: string(data)}
	if len(data) > MaxSpecBytes {
		l.errs.add(Pos{File: name, Line: 1, Col: 1}, "the spec is larger than %d MiB; a spec is a small text file (is this the right file?)", MaxSpecBytes>>20)
		return nil, l.errs.join()
	}
	if err := checkLimits(l.src); err != nil {
		l.limitProblem(err)
		return nil, l.errs.join()
	}
	spec := l.load()
	if err := l.errs.join(); err != nil {
		return nil, err
	}
	return spec, nil
}

// loader decodes one spec, collecting every problem with its position.
type loader struct {
	file    string
	src     string
	md      toml.MetaData
	errs    errorList
	lines   []int          // byte offsets of line starts, built by posAt
	headers map[string]int // door name → offset of its [door.NAME] header
}

// field is one key of a TOML table. Where it was written is found only
// when asked (at): the lookup costs a pass over the file, and a valid spec
// never needs it.
type field struct {
	name string // the key itself
	key  string // full dotted path, for messages
	prim toml.Primitive
	l    *loader
	pos  *Pos // cached by at
}

// at returns where the field's value was written.
func (f field) at() Pos {
	if f.pos.Line == 0 {
		*f.pos = f.l.primPos(f.prim)
	}
	return *f.pos
}

func (l *loader) load() *Spec {
	var top map[string]toml.Primitive
	md, err := toml.Decode(l.src, &top)
	if err != nil {
		l.syntaxError(err)
		return nil
	}
	l.md = md
	spec := &Spec{File: l.file, Table: TableSpec{
		Name: DefaultTableName, Priority: DefaultPriority, LogGroup: DefaultLogGroup, HoldQueue: DefaultLogGroup, Closed: DefaultClosed,
	}}
	for _, f := range l.fields("", top) {
		switch f.name {
		case "table":
			l.loadTable(&spec.Table, f)
		case "door":
			spec.Doors = l.loadDoors(f)
		default:
			l.unknownKey(f, "the top level", []string{"table", "door"})
		}
	}
	// Relations between keys are checked even when some keys were bad, so
	// one run reports every problem; validate only looks at what loaded.
	validate(spec, &l.errs)
	if len(l.errs) == 0 {
		validateNames(spec, &l.errs)
	}
	return spec
}

// syntaxError turns a TOML syntax error into a positioned problem.
func (l *loader) syntaxError(err error) {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		l.errs.add(l.posOf(pe.Position), "invalid TOML: %s", pe.Message)
		return
	}
	l.errs.add(Pos{File: l.file, Line: 1, Col: 1}, "invalid TOML: %v", err)
}

func (l *loader) posOf(p toml.Position) Pos {
	// BurntSushi/toml's Col is counted on the previous line when Start is
	// the first byte of a line, and its Line can disagree with Start; Start
	// itself is right, so line and column are derived from it.
	if p.Start >= 0 && p.Start <= len(l.src) {
		before := l.src[:p.Start]
		return Pos{File: l.file, Line: 1 + strings.Count(before, "\n"), Col: p.Start - strings.LastIndex(before, "\n"), Offset: p.Start}
	}
	line, col := p.Line, p.Col
	if line < 1 {
		line = 1
	}
	if col < 1 {
		col = 1
	}
	return Pos{File: l.file, Line: line, Col: col, Offset: p.Start}
}

// errPosProbe is returned by posProbe so the TOML decoder reports where
// the value being decoded was written.
var errPosProbe = errors.New("position probe")

// posProbe fails every decode; the decoder wraps that failure in a
// ParseError carrying the key's position, the only public way BurntSushi/toml
// tells where a key was written.
type posProbe struct{}

func (posProbe) UnmarshalTOML(any) error { return errPosProbe }

func (l *loader) primPos(p toml.Primitive) Pos {
	var pe toml.ParseError
	if err := l.md.PrimitiveDecode(p, &posProbe{}); errors.As(err, &pe) {
		return l.posOf(pe.Position)
	}
	return Pos{File: l.file, Line: 1, Col: 1}
}

// fields returns the keys of a decoded table, sorted by name (problems are
// sorted by position when they are reported).
func (l *loader) fields(prefix string, m map[string]toml.Primitive) []field {
	out := make([]field, 0, len(m))
	for k, p := range m {
		out = append(out, field{name: k, key: prefix + k, prim: p, l: l, pos: new(Pos)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

// posAt returns the position of a byte offset of the source, from an
// index of line starts built once.
func (l *loader) posAt(off int) Pos {
	if l.lines == nil {
		l.lines = []int{0}
		for i := 0; i < len(l.src); i++ {
			if l.src[i] == '\n' {
				l.lines = append(l.lines, i+1)
			}
		}
	}
	line := sort.Search(len(l.lines), func(i int) bool { return l.lines[i] > off }) // 1-based
	return Pos{File: l.file, Line: line, Col: off - l.lines[line-1] + 1, Offset: off}
}

// table decodes f as a TOML table; it reports and returns false otherwise.
func (l *loader) table(f field, what string) (map[string]toml.Primitive, bool) {
	var m map[string]toml.Primitive
	// PrimitiveDecode into a map succeeds, leaving it empty, for any value
	// that is not a table (BurntSushi/toml v1.6.0), so check the type first.
	if _, isTable := l.raw(f).(map[string]any); !isTable {
		l.errs.add(f.at(), "%s must be a table (%s), not %s", f.key, what, l.typeName(f))
		return nil, false
	}
	if err := l.md.PrimitiveDecode(f.prim, &m); err != nil {
		l.errs.add(f.at(), "%s must be a table (%s), not %s", f.key, what, l.typeName(f))
		return nil, false
	}
	return m, true
}

func (l *loader) raw(f field) any {
	var v any
	if err := l.md.PrimitiveDecode(f.prim, &v); err != nil {
		return nil
	}
	return v
}

func (l *loader) typeName(f field) string {
	switch l.raw(f).(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case []map[string]any:
		return "an array of tables"
	case map[string]any:
		return "a table"
	}
	return "a date or time"
}

func (l *loader) str(f field) (string, bool) {
	s, ok := l.raw(f).(string)
	if !ok {
		l.errs.add(f.at(), "%s must be a string, not %s", f.key, l.typeName(f))
	}
	return s, ok
}

func (l *loader) integer(f field, min, max int64) (int64, bool) {
	n, ok := l.raw(f).(int64)
	if !ok {
		l.errs.add(f.at(), "%s must be an integer, not %s", f.key, l.typeName(f))
		return 0, false
	}
	if n < min || n > max {
		l.errs.add(f.at(), "%s = %d is out of range (allowed %d to %d)", f.key, n, min, max)
		return 0, false
	}
	return n, true
}

func (l *loader) boolean(f field) (bool, bool) {
	b, ok := l.raw(f).(bool)
	if !ok {
		l.errs.add(f.at(), "%s must be true or false, not %s", f.key, l.typeName(f))
	}
	return b, ok
}

// text decodes a string value through v's own UnmarshalText.
func (l *loader) text(f field, v encoding.TextUnmarshaler) bool {
	s, ok := l.str(f)
	if !ok {
		return false
	}
	if err := v.UnmarshalText([]byte(s)); err != nil {
		l.errs.add(f.at(), "%s: %v", f.key, err)
		return false
	}
	return true
}

// strs decodes an array of strings; the second result gives the position
// of element i, found only when asked.
func (l *loader) strs(f field) ([]string, func(int) Pos, bool) {
	arr, ok := l.raw(f).([]any)
	if !ok {
		l.errs.add(f.at(), "%s must be an array of strings, not %s", f.key, l.typeName(f))
		return nil, nil, false
	}
	out := make([]string, 0, len(arr))
	for i, v := range arr {
		s, isStr := v.(string)
		if !isStr {
			l.errs.add(f.at(), "%s[%d] must be a string", f.key, i)
			return nil, nil, false
		}
		out = append(out, s)
	}
	var all []Pos
	return out, func(i int) Pos {
		if all == nil {
			all = l.elementPos(f.at(), out)
		}
		return all[i]
	}, true
}

// elementPos finds where each string of an array was written, searching the
// source from the array's start; an element not found gets the array's place.
func (l *loader) elementPos(start Pos, elems []string) []Pos {
	out := make([]Pos, len(elems))
	off := start.Offset
	if off < 0 || off > len(l.src) {
		off = len(l.src)
	}
	for i, s := range elems {
		out[i] = start
		best := -1
		for _, q := range []string{`"` + s + `"`, `'` + s + `'`} {
			if j := strings.Index(l.src[off:], q); j >= 0 && (best < 0 || j < best) {
				best = j
			}
		}
		if best < 0 {
			continue
		}
		abs := off + best + 1 // the string's first character, as TOML reports strings
		line := 1 + strings.Count(l.src[:abs], "\n")
		col := abs - strings.LastIndex(l.src[:abs], "\n")
		out[i] = Pos{File: l.file, Line: line, Col: col, Offset: abs}
		off = abs + len(s) + 1
	}
	return out
}

// steps decodes an array of steps ("7000/tcp").
func (l *loader) steps(f field) ([]Step, func(int) Pos, bool) {
	raw, pos, ok := l.strs(f)
	if !ok {
		return nil, nil, false
	}
	out := make([]Step, len(raw))
	for i, s := range raw {
		if err := out[i].UnmarshalText([]byte(s)); err != nil {
			l.errs.add(pos(i), "%s[%d]: %v", f.key, i, err)
			ok = false
		}
	}
	return out, pos, ok
}

// argv decodes a command: an array of strings run without a shell.
func (l *loader) argv(f field) []string {
	argv, _, ok := l.strs(f)
	if !ok {
		return nil
	}
	if len(argv) == 0 || argv[0] == "" {
		l.errs.add(f.at(), "%s must name a program: [\"/usr/bin/prog\", \"arg\", ...]", f.key)
		return nil
	}
	if !strings.HasPrefix(argv[0], "/") {
		l.errs.add(f.at(), "%s: program %q must be an absolute path (commands run without a shell or PATH lookup)", f.key, argv[0])
		return nil
	}
	return argv
}

// duration decodes a Go duration string within [min, max].
func (l *loader) duration(f field, min, max Duration) (Duration, bool) {
	var d Duration
	if !l.text(f, &d) {
		return 0, false
	}
	if d < min || d > max {
		s, _ := l.raw(f).(string)
		l.errs.add(f.at(), "%s = %q is out of range (allowed %s to %s)", f.key, s, shortDuration(min), shortDuration(max))
		return 0, false
	}
	return d, true
}

// shortDuration writes d as a Go duration without zero tails: "1h", not "1h0m0s".
func shortDuration(d Duration) string {
	s := durationOf(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func (l *loader) prefixes(f field) []netip.Prefix {
	raw, pos, ok := l.strs(f)
	if !ok {
		return nil
	}
	var out []netip.Prefix
	for i, s := range raw {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				l.errs.add(pos(i), "%s[%d]: %q is not an address or CIDR prefix (write e.g. \"203.0.113.0/24\" or \"2001:db8::/32\")", f.key, i, s)
				continue
			}
			if a.Zone() != "" {
				l.errs.add(pos(i), "%s[%d]: %q: write IPv4 addresses as a.b.c.d and leave out zones", f.key, i, s)
				continue
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if a := p.Addr(); a.Zone() != "" || a.Is4In6() {
			l.errs.add(pos(i), "%s[%d]: %q: write IPv4 addresses as a.b.c.d and leave out zones", f.key, i, s)
			continue
		}
		if p.Masked() != p {
			l.errs.add(pos(i), "%s[%d]: %q has host bits set; did you mean %q?", f.key, i, s, p.Masked().String())
			continue
		}
		out = append(out, p)
	}
	return out
}

// keyPos returns where f's key was written: on the line of its value,
// before it (the decoder only reports where values start).
func (l *loader) keyPos(f field) Pos {
	p := f.at()
	if p.Offset <= 0 || p.Offset > len(l.src) {
		return p
	}
	start := strings.LastIndex(l.src[:p.Offset], "\n") + 1
	if i := strings.Index(l.src[start:p.Offset], f.name); i >= 0 {
		p.Col = i + 1
		p.Offset = start + i
	}
	return p
}

// unknownKey reports a key the section does not have, with the closest
// known key or the list of allowed ones.
func (l *loader) unknownKey(f field, where string, known []string) {
	if s := suggest(f.name, known); s != "" {
		l.errs.add(l.keyPos(f), "unknown key %q in %s%s", f.name, where, s)
		return
	}
	l.errs.add(l.keyPos(f), "unknown key %q in %s (allowed: %s)", f.name, where, strings.Join(known, ", "))
}

// suggest returns ` (did you mean "x"?)` when key is a near miss of a known key.
func suggest(key string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(key, k); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
