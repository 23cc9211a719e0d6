package knockdconf

import (
	"fmt"
	"strings"

	"github.com/knockc/knockc/compiler"
)

// Result is a knockd.conf translated into a knock spec.
type Result struct {
	// Spec is the knock spec, TOML text. Doors that could not be completed
	// are in it commented out, for the user to finish.
	Spec []byte
	// Warnings say, line by line, what was not translated and what to do
	// instead.
	Warnings []Warning
	// Doors counts the doors written out live; with none, Spec does not
	// load until one is finished.
	Doors int
}

// Warning is one thing in knockd.conf that knockc does not translate.
type Warning struct {
	File string
	Line int
	Msg  string
}

// String returns "knockd.conf:12: message".
// Control characters (ESC, CR) are written as \xNN, so that a crafted
// knockd.conf cannot drive the terminal the warnings are printed on.
func (w Warning) String() string {
	return commentText(fmt.Sprintf("%s:%d: %s", w.File, w.Line, w.Msg))
}

// warner collects warnings in the order they are found.
type warner struct {
	file string
	list []Warning
}

func (w *warner) add(line int, format string, args ...any) {
	w.list = append(w.list, Warning{File: w.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// option reports the global options knockc has no use for.
func (w *warner) option(d *directive) {
	switch d.Key {
	case "USESYSLOG":
		w.add(d.Line, "UseSyslog: knockc has no log of its own to configure: an unmanaged door runs in the kernel alone, and `knockc monitor` logs to stderr, which journald keeps when systemd runs it: remove it")
	case "LOGFILE":
		w.add(d.Line, "LogFile: knockc writes no log file: `knockc monitor` logs to stderr; redirect that to the file, or let journald keep it")
	case "PIDFILE":
		w.add(d.Line, "PidFile: knockc writes no pid file; run `knockc monitor` under systemd, which tracks it: remove it")
	default:
		w.add(d.Line, "[options] %s: not a knockd option, so knockd itself refuses this file: remove it", strings.ToLower(d.Key))
	}
}

// Options tune Convert.
type Options struct {
	// Services resolves port names ("ssh"); nil uses the importer's own
	// table (BuiltinServices), so that the result does not depend on the
	// host.
	Services Services
}

// Convert translates the knockd configuration data, read from file (used in
// warnings and comments), into a knock spec. It fails only on a file past
// the stated limits (a *LimitError): whatever else it cannot translate
// becomes a warning, and a door it cannot complete is written out
// commented. Result.Spec loads with compiler.Parse whenever Result.Doors
// is at least 1, and never holds two doors that conflict.
func Convert(file string, data []byte, opt Options) (*Result, error) {
	if err := checkLimits(data); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	resolve := opt.Services
	if resolve == nil {
		resolve = BuiltinServices
	}
	w := &warner{file: file}
	cfg := parse(string(data))
	t := &tableOut{}
	for _, d := range cfg.Options {
		if d.Key == "INTERFACE" && d.HasValue {
			dd := d
			t.iface = &dd
			continue
		}
		w.option(&d)
	}
	for _, d := range cfg.Stray {
		if d.Key == "USESYSLOG" {
			w.option(&d)
			continue
		}
		w.add(d.Line, "%s before any [section]: knockd itself refuses this file: move it into [options] or a door's section", strings.ToLower(d.Key))
	}
	for _, d := range cfg.Bad {
		w.add(d.Line, "%q is neither a [section] nor KEY = VALUE, so knockd itself refuses this file: remove it", d.Value)
	}
	var events []*event
	for _, s := range cfg.Sections {
		e := readEvent(s, w)
		e.meaning = e.interpret(resolve)
		events = append(events, e)
	}
	pair(events, w)
	mergeFamilies(events, w)
	out := &specOut{file: file, table: t}
	names := map[string]bool{}
	for _, e := range events {
		if e.closes() || e.merged != nil {
			continue
		}
		if e.meaning.None {
			w.add(e.Line, "[%s] %s: nothing to translate", e.Name, e.meaning.Why)
			continue
		}
		out.doors = append(out.doors, buildDoor(e, uniqueName(doorName(e.Name), names), w))
	}
	for _, d := range out.doors {
		switch {
		case d.iface == "" || !d.live():
		case t.iface == nil:
			t.iface, t.fromRule = &directive{Key: "INTERFACE", Value: d.iface, HasValue: true, Line: d.line}, true
		case t.iface.Value != d.iface:
			w.add(d.line, "[%s] its firewall rule opens the port on %s, but knockc counts knocks on %s only ([table] interfaces): add %q to interfaces if knocks arrive there too", d.section, d.iface, t.iface.Value, d.iface)
		}
	}
	out.validate(w)
	sortWarnings(w.list)
	res := &Result{Spec: out.render(), Warnings: w.list}
	for _, d := range out.doors {
		if d.live() {
			res.Doors++
		}
	}
	return res, nil
}

// closes reports whether e takes a grant back (a firewall rule deleted, a
// service stopped) and grants nothing: it then becomes another door's
// close_sequence, or a warning.
func (e *event) closes() bool {
	m := e.meaning
	if e.opens() {
		return false
	}
	if len(m.grants(false)) > 0 || m.service(false) != nil {
		return true
	}
	// A rule knockc cannot express, deleted: the twin of a section whose
	// door is written out commented.
	undo := false
	for _, p := range m.Parts {
		switch {
		case p.Undo:
			undo = true
		case !p.Noop:
			return false
		}
	}
	return undo
}

// opens reports whether e grants something (a firewall rule added, a
// service started).
func (e *event) opens() bool {
	m := e.meaning
	return len(m.grants(true)) > 0 || m.service(true) != nil
}

// undoes reports how well closer c undoes opener o: 2 when it takes back
// the same ports and stops the same unit, 1 when it takes back the same
// ports or stops the same unit, 0 when it does neither.
func undoes(c, o *event) int {
	cp, cu := c.meaning.undoKey(false)
	op, ou := o.meaning.undoKey(true)
	samePorts := cp != "" && cp == op
	sameUnit := cu != "" && cu == ou
	switch {
	case (samePorts || cp == "") && (sameUnit || cu == "") && (samePorts || sameUnit):
		return 2
	case samePorts || sameUnit:
		return 1
	}
	return 0
}

// pair matches every section that takes a grant back with the section
// that grants the same thing and has no partner yet, whatever the sections
// are called: knockd's openSSH/closeSSH pattern, one door with a
// close_sequence. An exact match (same ports, same unit) is preferred.
func pair(events []*event, w *warner) {
	for _, c := range events {
		if !c.closes() {
			continue
		}
		for _, want := range []int{2, 1} {
			for _, o := range events {
				if c.paired == nil && o.opens() && o.paired == nil && undoes(c, o) == want {
					o.paired, c.paired = c, o
				}
			}
		}
		if c.paired != nil {
			continue
		}
		ports, unit := c.meaning.undoKey(false)
		if o := twin(c, events); o != nil && (ports != "" || unit != "") {
			// The section it undoes runs a script: what this one takes
			// back says what that script opened (buildDoor suggests it).
			o.paired, c.paired, o.guessed = c, o, true
			continue
		}
		var what []string
		if ports != "" {
			what = append(what, "deletes the rule for "+ports)
		}
		if unit != "" {
			what = append(what, "stops "+unit)
		}
		if len(what) == 0 {
			for _, p := range c.meaning.Parts {
				if p.Undo {
					what = append(what, fmt.Sprintf("%q deletes a rule knockc cannot express (it %s)", p.Text, p.Refused))
				}
			}
		}
		w.add(c.meaning.Line, "[%s] %s, which no section adds or starts: nothing to translate (a knockc door's close_sequence ends the knocker's grant, and the monitor stops a door's service after the last one)", c.Name, strings.Join(what, " and "))
	}
}

// twin returns the unpaired section that closer c most likely undoes
// although its command was not understood (a script): the one whose
// sequence is c's reversed, or whose name is c's with open for close.
func twin(c *event, events []*event) *event {
	rev := make([]compiler.Step, len(c.Sequence))
	for i, s := range c.Sequence {
		rev[len(rev)-1-i] = s
	}
	name := strings.NewReplacer("close", "open", "Close", "Open", "CLOSE", "OPEN", "stop", "start", "Stop", "Start").Replace(c.Name)
	for _, o := range events {
		if o == c || o.paired != nil || o.opens() || o.closes() || o.meaning.None || o.Sequence == nil {
			continue
		}
		if stepsValue(o.Sequence) == stepsValue(rev) || o.Name == name && name != c.Name {
			return o
		}
	}
	return nil
}

// mergeFamilies folds a section into an earlier one with the same
// sequence that opens the same ports for the other address family
// (knockd's [openSSH] with iptables beside [openSSH6] with ip6tables): one
// knockc door covers both families, and two doors could not share a
// sequence or a port.
func mergeFamilies(events []*event, w *warner) {
	for i, a := range events {
		if !a.opens() || a.merged != nil || a.Sequence == nil {
			continue
		}
		for _, b := range events[i+1:] {
			if !b.opens() || b.merged != nil || stepsValue(b.Sequence) != stepsValue(a.Sequence) {
				continue
			}
			ap, au := a.meaning.undoKey(true)
			bp, bu := b.meaning.undoKey(true)
			af, bf := a.meaning.families(), b.meaning.families()
			if ap != bp || au != bu || len(af) != 1 || len(bf) != 1 || af[0] == bf[0] {
				continue
			}
			a.meaning.Parts = append(a.meaning.Parts, b.meaning.Parts...)
			b.merged = a
			a.also = append(a.also, b)
			switch c := b.paired; {
			case c == nil:
			case a.paired == nil:
				a.paired, c.paired = c, a
			default:
				a.also = append(a.also, c)
				if stepsValue(c.Sequence) != stepsValue(a.paired.Sequence) {
					w.add(c.Line, "[%s] closes what [%s] opens, folded into door of [%s]: a knockc door has one close_sequence for both families; took [%s]'s", c.Name, b.Name, a.Name, a.paired.Name)
				}
			}
		}
	}
}

// doorName derives a door name from a section name: "openSSH" and
// "opencloseSSH" and "startSSH" become "ssh"; characters a door name cannot hold become _.
func doorName(section string) string {
	n := strings.ToLower(section)
	for _, p := range []string{"openclose", "open", "start"} {
		if rest := strings.TrimLeft(strings.TrimPrefix(n, p), "-_ "); strings.HasPrefix(n, p) && rest != "" {
			n = rest
			break
		}
	}
	var b strings.Builder
	for _, r := range n {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9' && b.Len() > 0, r == '_' && b.Len() > 0:
			b.WriteRune(r)
		case b.Len() > 0:
			b.WriteRune('_')
		}
	}
	name := strings.TrimRight(b.String(), "_")
	if name == "" {
		name = "door"
	}
	if len(name) > 20 {
		name = strings.TrimRight(name[:20], "_")
	}
	return name
}

// uniqueName returns name, or name_2, name_3 … when taken, and records it.
func uniqueName(name string, taken map[string]bool) string {
	n := name
	for i := 2; taken[n]; i++ {
		n = fmt.Sprintf("%s_%d", name, i)
	}
	taken[n] = true
	return n
}
