package knockdconf

import (
	"fmt"
	"strings"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/ruleset"
)

// Limits of the knockc keys timeouts translate to, in seconds.
const (
	maxSeqTimeout  = 24 * 3600
	maxStepTimeout = 3600
	maxOpenFor     = 7 * 24 * 3600
	defaultOpenFor = 30
)

// doorOut is one door of the translated spec.
type doorOut struct {
	name    string
	section string   // the knockd section it comes from
	line    int      // of that section, for warnings
	from    string   // "[openSSH] (line 4) and [closeSSH] (line 10)"
	fields  []field  // in the order written
	missing []string // why it is written out commented; none: live
	iface   string   // the interface its firewall rule named (iptables -i)

	after        []string // lines after the door's keys: its sub-tables
	closeSection string   // the section its close_sequence comes from
	closeLine    int
}

// field is one key of a door with its value written as TOML, and comments.
type field struct {
	key, value string
	comment    string   // after the value
	above      []string // comment lines before the key
}

// live reports whether the door is complete and written out uncommented.
func (d *doorOut) live() bool { return len(d.missing) == 0 }

func (d *doorOut) add(key, value, comment string, above ...string) {
	d.fields = append(d.fields, field{key: key, value: value, comment: comment, above: above})
}

// buildDoor translates one section (with the section that closes it, if
// any) into a door, reporting what it cannot translate.
func buildDoor(e *event, name string, w *warner) *doorOut {
	d := &doorOut{name: name, section: e.Name, line: e.Line, from: fmt.Sprintf("[%s] (line %d)", e.Name, e.Line)}
	for _, o := range e.also {
		d.from += fmt.Sprintf(", [%s] (line %d)", o.Name, o.Line)
	}
	if e.paired != nil {
		d.from += fmt.Sprintf(" and [%s] (line %d)", e.paired.Name, e.paired.Line)
	}
	d.sequences(e, w)
	if e.OneTime == nil {
		d.timing(e, w)
	}
	d.action(e, w)
	if e.Target != nil {
		w.add(e.Target.Line, "[%s] target = %s: knockc has no equivalent: it counts knocks addressed to this host only (any of its addresses), so knock this host itself", e.Name, e.Target.Value)
	}
	return d
}

// sequences writes sequence and close_sequence.
func (d *doorOut) sequences(e *event, w *warner) {
	switch {
	case e.Sequence != nil:
		d.add("sequence", stepsValue(e.Sequence), "")
	case e.OneTime != nil:
		// knockc's one-time knocks are tokens (docs/tokens.md): the door
		// is written as a token door, waiting for its key.
		d.missing = append(d.missing, "a token key (docs/tokens.md)")
		d.after = []string{
			fmt.Sprintf("[door.%s.token]  # instead of knockd's one_time_sequences = %s", d.name, e.OneTime.Value),
			"port = 62201  # UDP; nothing may listen on it",
			fmt.Sprintf("[door.%s.token.keys]", d.name),
			fmt.Sprintf("me = %q  # one key file per person or device: knockc keygen %s me --spec FILE", "/etc/knockc/"+d.name+"-me.key", d.name),
		}
	case e.SequenceLine == 0:
		w.add(e.Line, "[%s] has no sequence, so knockd itself refuses this file: add one, e.g. sequence = 7000,8000,9000", e.Name)
		d.add("sequence", `["PORT/tcp", "PORT/tcp", "PORT/tcp"]`, "")
		d.missing = append(d.missing, "a sequence")
	default: // invalid, already reported
		d.add("sequence", `["PORT/tcp", "PORT/tcp", "PORT/tcp"]`, "")
		d.missing = append(d.missing, "a sequence")
	}
	if e.OneTime != nil {
		w.add(e.OneTime.Line, "[%s] one_time_sequences: a door in the kernel cannot rewrite its own sequence after each use; knockc's replay-proof answer is a token door, opened by one-time tokens derived from a key and spent in the kernel on first use: door %q is written out commented with [door.%s.token] (port) and [door.%s.token.keys]: uncomment it, make its key with `knockc keygen %s me --spec knock.toml` and give the client that file (see docs/tokens.md)", e.Name, d.name, d.name, d.name, d.name)
	}
	c := e.paired
	if c == nil {
		return
	}
	d.closeSection, d.closeLine = c.Name, c.SequenceLine
	switch {
	case c.Sequence != nil:
		d.add("close_sequence", stepsValue(c.Sequence), "")
	case c.OneTime != nil:
		w.add(c.OneTime.Line, "[%s] one_time_sequences has no knockc equivalent: the door gets no close_sequence; add close_sequence = [...] with a fixed sequence (the grant also ends by itself after open_for)", c.Name)
	case c.SequenceLine == 0:
		w.add(c.Line, "[%s] has no sequence, so knockd itself refuses this file: the door gets no close_sequence", c.Name)
	}
	if c.SeqTimeout != e.SeqTimeout && c.SeqTimeoutSet != nil {
		w.add(c.SeqTimeoutSet.Line, "[%s] seq_timeout = %d differs from [%s]'s %d: a knockc door has one seq_timeout for both its sequences; took [%s]'s", c.Name, c.SeqTimeout, e.Name, e.SeqTimeout, e.Name)
	}
	if flagsOf(c) != flagsOf(e) && c.TCPFlags != nil {
		w.add(c.TCPFlags.Line, "[%s] tcpflags = %s differs from [%s]'s: a knockc door has one tcp_flags for both its sequences; took [%s]'s", c.Name, c.TCPFlags.Value, e.Name, e.Name)
	}
}

// flagsOf returns a section's tcpflags as written, "" when not given.
func flagsOf(e *event) string {
	if e.TCPFlags == nil {
		return ""
	}
	return strings.ToLower(strings.ReplaceAll(e.TCPFlags.Value, " ", ""))
}

// timing writes step_timeout, seq_timeout and tcp_flags.
func (d *doorOut) timing(e *event, w *warner) {
	seq := e.SeqTimeout
	if seq > maxSeqTimeout {
		w.add(e.SeqTimeoutSet.Line, "[%s] seq_timeout = %d: knockc allows at most 24h; took that", e.Name, seq)
		seq = maxSeqTimeout
	}
	step := min(seq, maxStepTimeout)
	d.add("step_timeout", quote(duration(step)), "knockd has no limit per knock: as long as seq_timeout")
	comment := ""
	if e.SeqTimeoutSet == nil {
		comment = "knockd's default"
	}
	d.add("seq_timeout", quote(duration(seq)), comment)

	hasTCP := false
	for _, s := range e.Sequence {
		hasTCP = hasTCP || s.Proto == ruleset.TCP
	}
	if e.TCPFlags == nil {
		if hasTCP || e.Sequence == nil {
			d.add("tcp_flags", quote(compiler.DefaultTCPFlags.String()), "knockd had no tcpflags: knockc's default")
		}
		return
	}
	var f compiler.TCPFlags
	if err := f.UnmarshalText([]byte(e.TCPFlags.Value)); err != nil {
		w.add(e.TCPFlags.Line, "[%s] tcpflags: %v: took knockc's default, %q", e.Name, err, compiler.DefaultTCPFlags.String())
		return
	}
	d.add("tcp_flags", quote(f.String()), "")
}

// action writes what the door does: protect, open_for, service, families.
func (d *doorOut) action(e *event, w *warner) {
	m := e.meaning
	ports := m.ports(true)
	svc := m.service(true)
	for _, p := range m.Parts {
		if p.Grant != nil {
			for _, n := range p.Grant.Notes {
				w.add(m.Line, "[%s] %q: %s", e.Name, p.Text, n)
			}
			if p.Grant.Iface != "" && d.iface == "" {
				d.iface = p.Grant.Iface
			}
		}
	}
	switch {
	case len(ports) > 0:
		d.add("protect", portsValue(ports), "")
		for _, p := range m.Parts {
			if p.Grant != nil && p.Grant.Everyone && p.Grant.Insert {
				w.add(m.Line, "[%s] %q opens %s to every address, not only the knocker (it does not match %%IP%%): knockc opens it for the knocker alone, for open_for; written as protect = %s of door %q", e.Name, p.Text, portsKey(p.Grant.Ports), portsValue(p.Grant.Ports), d.name)
			}
		}
	case svc != nil && len(servicePorts(svc.Unit)) > 0:
		ps := servicePorts(svc.Unit)
		d.add("protect", portsValue(ps), "the port "+svc.Unit+" serves by default")
		w.add(m.Line, "[%s] starts %s but names no port: took %s, the port it serves by default (a knockc door gates it for the knocker alone); if it listens elsewhere, fix protect = %s of door %q", e.Name, svc.Unit, portsKey(ps), portsValue(ps), d.name)
	case svc != nil:
		d.add("protect", `["PORT/tcp"]`, "the port "+svc.Unit+" serves")
		d.missing = append(d.missing, "the port it protects")
		w.add(m.Line, "[%s] starts %s but names no port: write the port it serves in protect = [\"PORT/tcp\"] of door %q (written out commented) and uncomment it", e.Name, svc.Unit, d.name)
	case e.guessed:
		// A script, undone by a section whose commands say what it
		// opened: suggest that, for the user to confirm.
		c := e.paired
		cports, cunit := c.meaning.ports(false), c.meaning.service(false)
		what := []string{}
		if len(cports) > 0 {
			d.add("protect", portsValue(cports), "what ["+c.Name+"] takes back")
			what = append(what, "takes back "+portsKey(cports))
		} else {
			d.add("protect", `["PORT/tcp"]`, "")
		}
		if cunit != nil {
			svc = &serviceCmd{Unit: cunit.Unit, Start: true}
			what = append(what, "stops "+cunit.Unit)
		}
		d.missing = append(d.missing, "a check that ["+e.Name+"]'s command opens what ["+c.Name+"] takes back")
		w.add(m.Line, "[%s] %q is not translated, but [%s], which undoes it, %s: door %q is written out commented with that; if the command does just that, uncomment it", e.Name, commandOf(e), c.Name, strings.Join(what, " and "), d.name)
	default:
		d.add("protect", `["PORT/tcp"]`, "")
		d.missing = append(d.missing, "the port it protects")
	}
	d.report(e, m, d.live(), w)
	d.openFor(e, w)
	if svc != nil {
		d.add("service", quote(svc.Unit), "")
	}
	if fams := m.families(); len(fams) == 1 && len(ports) > 0 {
		tool := "IPv4"
		if fams[0] == ruleset.IPv6 {
			tool = "IPv6"
		}
		d.add("families", listValue([]string{fams[0].String()}), fmt.Sprintf("knockd's commands opened it over %s only", tool))
	}
}

// report warns, line by line, about the parts of the start command that
// the door does not carry: firewall commands knockc cannot express, and
// programs it does not run. done says whether the door has what it opens.
func (d *doorOut) report(e *event, m meaning, done bool, w *warner) {
	where := fmt.Sprintf("door %q", d.name)
	if !done {
		where += " (written out commented)"
	}
	for _, p := range m.Parts {
		switch {
		case p.Refused != "":
			if done {
				w.add(m.Line, "[%s] %q %s: not translated; door %q opens only what the other commands name", e.Name, p.Text, p.Refused, d.name)
			} else {
				w.add(m.Line, "[%s] %q %s: knockc grants the knocker only the ports a door protects: write them in protect = [\"PORT/tcp\"] of %s", e.Name, p.Text, p.Refused, where)
			}
		case p.Other != "" && e.guessed:
			// said already: the section that undoes it tells what it did
		case p.Other != "":
			hook := "put it in a script that reads the knocker's address from $KNOCKC_ADDR, and name that in on_open = [\"/path/to/script\"] of " + where
			if !done {
				hook = "list the ports it opens in protect = [\"PORT/tcp\"] of " + where + "; to run it as well, " + hook
				if !d.has("on_open") {
					d.add("on_open", `["/path/to/script"]`, "was: "+p.Text)
				}
			} else {
				hook = "to run it on each open, " + hook
			}
			w.add(m.Line, "[%s] %q %s: knockc runs no shell and has no %%IP%%: %s", e.Name, p.Text, p.Other, hook)
		}
	}
}

// has reports whether the door already has key.
func (d *doorOut) has(key string) bool {
	for _, f := range d.fields {
		if f.key == key {
			return true
		}
	}
	return false
}

// openFor writes open_for: the firewall's own timeout (firewall-cmd
// --timeout, an nft element's timeout), knockd's cmd_timeout when there
// is a stop_command (whether or not knockc reads it as the undo), else
// knockc's default with a note.
func (d *doorOut) openFor(e *event, w *warner) {
	m := e.meaning
	secs, why := 0, ""
	for _, g := range m.grants(true) {
		if g.OpenFor > secs {
			secs, why = g.OpenFor, "how long knockd's command kept the rule"
		}
	}
	if e.Stop != nil && e.Stop.Value != "" || e.Stop6 != nil && e.Stop6.Value != "" {
		stop := e.stopMeaning(e.resolve)
		switch {
		case reverses(m, stop) || !d.live():
			// A door written out commented gets cmd_timeout too: its
			// start command was not understood, so neither is its undo.
			if secs == 0 || e.CmdTimeout < secs {
				secs, why = e.CmdTimeout, "knockd's cmd_timeout, after which stop_command ran"
			}
		default:
			// knockd ran stop_command cmd_timeout after the grant, and such
			// a command (a delete by handle found with $(…), a flush of
			// the chain, a script) most often ends it: the grant written
			// does not outlive that moment (fail closed).
			if secs == 0 || e.CmdTimeout < secs {
				secs, why = e.CmdTimeout, "knockd's cmd_timeout, after which stop_command ran"
			}
			written := e.Stop6
			if e.Stop != nil {
				written = e.Stop
			}
			line := written.Line
			w.add(line, "[%s] stop_command %q does not undo start_command as knockc reads it: knockc ends the grant by itself after open_for, written as knockd's cmd_timeout (%s); to run the command as well, put it in a script named in on_close = [\"/path/to/script\"] of door %q", e.Name, commandOfStop(e), duration(e.CmdTimeout), d.name)
		}
	}
	if secs > 0 {
		if secs > maxOpenFor {
			w.add(m.Line, "[%s] %s is %d seconds: knockc's open_for is at most 168h; took that", e.Name, strings.Split(why, ",")[0], secs)
			secs = maxOpenFor
		}
		d.add("open_for", quote(duration(secs)), why)
		return
	}
	if d.missing != nil && !d.has("protect") {
		return
	}
	until := "for good"
	if e.paired != nil {
		until = "until the close sequence"
	}
	if svc := m.service(true); svc != nil {
		d.add("open_for", quote(duration(defaultOpenFor)), "knockc's default", "knockd started "+svc.Unit+" and left it running "+until+";",
			"knockc's monitor stops it when the last knocker's grant ends.")
		return
	}
	d.add("open_for", quote(duration(defaultOpenFor)), "knockc's default", "knockd kept the port open "+until+". knockc lets the knocker",
		"open new connections for open_for (established ones live on): raise it,",
		"up to 168h, to come closer to knockd.")
}

// commandOf returns the section's start command as written.
func commandOf(e *event) string {
	for _, c := range []*directive{e.Start, e.Start6} {
		if c != nil && c.Value != "" {
			return c.Value
		}
	}
	return "(none)"
}

// commandOfStop returns the section's stop command as written.
func commandOfStop(e *event) string {
	for _, c := range []*directive{e.Stop, e.Stop6} {
		if c != nil && c.Value != "" {
			return c.Value
		}
	}
	return "(none)"
}

// stopMeaning reads stop_command and stop_command_6 together.
func (e *event) stopMeaning(resolve Services) meaning {
	m := meaning{Line: e.Line}
	for _, d := range []*directive{e.Stop, e.Stop6} {
		if d != nil && d.Value != "" {
			m.Parts = append(m.Parts, interpretCommand(d, resolve).Parts...)
		}
	}
	return m
}

// reverses reports whether stop undoes start: it deletes the rules start
// added, and stops the unit it started.
func reverses(start, stop meaning) bool {
	sp, su := start.undoKey(true)
	tp, tu := stop.undoKey(false)
	if sp == "" && su == "" {
		return false
	}
	return sp == tp && su == tu
}

// portsValue writes ports as a TOML array: ["22/tcp", "80/tcp"].
func portsValue(ps []port) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return listValue(s)
}

// duration writes whole seconds as a Go duration: "25s", "1m30s", "2h".
func duration(secs int) string {
	var b strings.Builder
	for _, u := range []struct {
		secs int
		unit string
	}{{3600, "h"}, {60, "m"}, {1, "s"}} {
		if n := secs / u.secs; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.unit)
			secs -= n * u.secs
		}
	}
	if b.Len() == 0 {
		return "0s"
	}
	return b.String()
}

func stepsValue(steps []compiler.Step) string {
	parts := make([]string, len(steps))
	for i, s := range steps {
		parts[i] = s.String()
	}
	return listValue(parts)
}

// listValue writes a TOML array of strings.
func listValue(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// quote writes s as a TOML basic string.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
