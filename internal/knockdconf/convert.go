package knockdconf

import (
	"fmt"
	"strings"
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
func (w Warning) String() string { return fmt.Sprintf("%s:%d: %s", w.File, w.Line, w.Msg) }

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

// Convert translates the knockd configuration data, read from file (used in
// warnings and comments), into a knock spec. It never fails: whatever it
// cannot translate becomes a warning, and a door it cannot complete is
// written out commented. Result.Spec loads with compiler.Parse whenever
// Result.Doors is at least 1.
func Convert(file string, data []byte) *Result {
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
		e.meaning = e.interpret()
		events = append(events, e)
	}
	pair(events, w)
	out := &specOut{file: file, table: t}
	names := map[string]bool{}
	for _, e := range events {
		if e.closes() {
			continue
		}
		if e.meaning.None {
			w.add(e.Line, "[%s] %s: nothing to translate", e.Name, e.meaning.Why)
			continue
		}
		out.doors = append(out.doors, buildDoor(e, uniqueName(doorName(e.Name), names), w))
	}
	out.validate(w)
	sortWarnings(w.list)
	res := &Result{Spec: out.render(), Warnings: w.list}
	for _, d := range out.doors {
		if d.live() {
			res.Doors++
		}
	}
	return res
}

// closes reports whether e takes a grant back (iptables -D, systemctl
// stop): it then becomes another door's close_sequence, or a warning.
func (e *event) closes() bool {
	m := e.meaning
	return (m.Grant != nil && !m.Grant.Insert) || (m.Service != nil && !m.Service.Start)
}

// opens reports whether e grants something (iptables -A/-I, a service
// start).
func (e *event) opens() bool {
	m := e.meaning
	return (m.Grant != nil && m.Grant.Insert) || (m.Service != nil && m.Service.Start)
}

// undoKey identifies what e grants or takes back, so that the two can be
// paired: the families and ports of a rule, or a unit.
func (e *event) undoKey() string {
	switch m := e.meaning; {
	case m.Grant != nil:
		return "grant " + m.Grant.key()
	case m.Service != nil:
		return "service " + m.Service.Unit
	}
	return ""
}

// pair matches every section that takes a grant back with the first
// section before or after it that grants the same thing and has no partner
// yet: knockd's openSSH/closeSSH pattern, one door with a close_sequence.
func pair(events []*event, w *warner) {
	for _, c := range events {
		if !c.closes() {
			continue
		}
		for _, o := range events {
			if o.opens() && o.paired == nil && o.undoKey() == c.undoKey() {
				o.paired, c.paired = c, o
				break
			}
		}
		if c.paired == nil {
			what := "the ACCEPT for " + portsKey(pointer(c.meaning.Grant).Ports)
			if c.meaning.Service != nil {
				what = "stops " + c.meaning.Service.Unit
			}
			if c.meaning.Service != nil {
				w.add(c.Line, "[%s] %s, which no section starts: nothing to translate (a knockc door's close_sequence ends the knocker's grant, and the monitor stops the service after the last one)", c.Name, what)
			} else {
				w.add(c.Line, "[%s] deletes %s, which no section adds: nothing to translate (a knockc door's close_sequence takes a grant back)", c.Name, what)
			}
		}
	}
}

// pointer returns g, or an empty grant for nil.
func pointer(g *grant) *grant {
	if g == nil {
		return &grant{}
	}
	return g
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
