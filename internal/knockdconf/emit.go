package knockdconf

import (
	"fmt"
	"sort"
	"strings"

	"github.com/knockc/knockc/compiler"
)

// specOut is the translated spec: the [table] and the doors in the order
// of their sections.
type specOut struct {
	file  string
	table *tableOut
	doors []*doorOut
}

// tableOut is what [options] gives the [table].
type tableOut struct {
	iface    *directive // Interface = eth0, or one made from a rule's -i
	fromRule bool       // iface comes from a firewall rule, not [options]
	ifaceBad bool       // knockc refused its value
}

// validate loads the spec with every door in turn added to the doors
// already accepted; a door knockc refuses is written out commented and
// its problems reported. It first checks [table] the same way.
func (s *specOut) validate(w *warner) {
	if s.table.iface != nil {
		probe := s.table.render() + "\n[door.probe]\nsequence = [\"1\"]\nprotect = [\"2/tcp\"]\n"
		if _, err := compiler.Parse(s.file, []byte(probe)); err != nil {
			s.table.ifaceBad = true
			w.add(s.table.iface.Line, "Interface = %s: knockc refuses it (%s): fix interfaces in [table] (written out commented)", s.table.iface.Value, messages(err))
		}
	}
	// The common case, every door accepted, takes one parse; otherwise
	// the doors are added one at a time in the order of their sections,
	// so that an earlier section wins a conflict.
	var all strings.Builder
	all.WriteString(s.table.render())
	for _, d := range s.doors {
		if d.live() {
			all.WriteString(d.render())
		}
	}
	if _, err := compiler.Parse(s.file, []byte(all.String())); err == nil {
		return
	}
	var accepted strings.Builder
	accepted.WriteString(s.table.render())
	for _, d := range s.doors {
		if !d.live() {
			continue
		}
		text := d.render()
		_, err := compiler.Parse(s.file, []byte(accepted.String()+text))
		if err != nil && d.has("close_sequence") {
			// The door may stand without its close sequence (knockd's
			// open and close sections with the same knocks, say): the
			// grant then ends after open_for.
			without := d.without("close_sequence")
			if _, err2 := compiler.Parse(s.file, []byte(accepted.String()+without.render())); err2 == nil {
				w.add(d.closeLine, "[%s] knockc refuses its sequence as door %q's close_sequence: %s: the door has no close_sequence, and its grant ends after open_for; give [%s] other knocks to close it", d.closeSection, d.name, messages(err), d.closeSection)
				*d = *without
				text, err = d.render(), nil
			}
		}
		if err != nil {
			d.missing = append(d.missing, "a fix for what knockc refuses")
			w.add(d.line, "[%s] knockc refuses the door it translates to: %s: fix that in door %q (written out commented)", d.section, messages(err), d.name)
			continue
		}
		accepted.WriteString(text)
	}
}

// without returns a copy of d without key.
func (d *doorOut) without(key string) *doorOut {
	c := *d
	c.fields = nil
	for _, f := range d.fields {
		if f.key != key {
			c.fields = append(c.fields, f)
		}
	}
	return &c
}

// messages joins the problems of a spec error without their positions,
// which point into the translation rather than into knockd.conf.
func messages(err error) string {
	errs := compiler.Errors(err)
	if len(errs) == 0 {
		return err.Error()
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Msg
	}
	return strings.Join(msgs, "; ")
}

// render writes the whole spec.
func (s *specOut) render() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# knock.toml translated from %s by `knockc import`.\n", commentText(s.file))
	b.WriteString("# Check it with `knockc check FILE`; `knockc render FILE` shows the nftables\n")
	b.WriteString("# ruleset. What could not be translated was reported line by line on stderr;\n")
	b.WriteString("# a door that could not be completed is written out commented, to be finished.\n\n")
	b.WriteString(s.table.render())
	for _, d := range s.doors {
		b.WriteString(d.render())
	}
	return []byte(b.String())
}

// render writes [table]: the interface knockd listened on, or a note.
func (t *tableOut) render() string {
	var b strings.Builder
	b.WriteString("[table]\n")
	switch {
	case t.iface == nil:
		b.WriteString("# knockd listened on one interface (eth0, unless started with -i); knockc\n")
		b.WriteString("# counts knocks arriving on every interface but lo. To keep to one, write\n")
		b.WriteString("# interfaces = [\"eth0\"]\n")
	case t.ifaceBad:
		fmt.Fprintf(&b, "# interfaces = [%s]  # knockd's Interface: knockc refuses it\n", quote(t.iface.Value))
	case t.fromRule:
		fmt.Fprintf(&b, "interfaces = [%s]  # the interface knockd's firewall rule opened the port on\n", quote(t.iface.Value))
	default:
		fmt.Fprintf(&b, "interfaces = [%s]  # knockd's Interface\n", quote(t.iface.Value))
	}
	return b.String()
}

// render writes one door, commented out when it is not complete.
func (d *doorOut) render() string {
	var b strings.Builder
	prefix := ""
	fmt.Fprintf(&b, "\n# From %s.\n", commentText(d.from))
	if !d.live() {
		prefix = "# "
		fmt.Fprintf(&b, "# Not translated: it lacks %s (see the warnings).\n", strings.Join(d.missing, " and "))
		b.WriteString("# Fill that in and remove the leading \"# \" to use it.\n")
	}
	fmt.Fprintf(&b, "%s[door.%s]\n", prefix, d.name)
	width := 0
	for _, f := range d.fields {
		width = max(width, len(f.key))
	}
	for _, f := range d.fields {
		for _, a := range f.above {
			// "# # " in a commented door, so that taking one "# " off
			// every line leaves the comment a comment.
			fmt.Fprintf(&b, "%s# %s\n", prefix, commentText(a))
		}
		line := fmt.Sprintf("%s%-*s = %s", prefix, width, f.key, f.value)
		if f.comment != "" {
			line += "  # " + commentText(f.comment)
		}
		b.WriteString(line + "\n")
	}
	for _, l := range d.after {
		b.WriteString(prefix + commentText(l) + "\n")
	}
	return b.String()
}

// sortWarnings orders warnings by line, keeping the order of those on the
// same line.
func sortWarnings(ws []Warning) {
	sort.SliceStable(ws, func(i, j int) bool { return ws[i].Line < ws[j].Line })
}

// commentText makes s safe inside a TOML comment, which may hold no
// control character but tab: each one (ESC, CR, NUL…) is written as \xNN,
// so that the spec always parses whatever knockd.conf held.
func commentText(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 && r != '\t' || r == 0x7f {
			fmt.Fprintf(&b, `\x%02X`, r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
