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
	if e.paired != nil {
		d.from += fmt.Sprintf(" and [%s] (line %d)", e.paired.Name, e.paired.Line)
	}
	d.sequences(e, w)
	d.timing(e, w)
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
		d.add("sequence", `["PORT/tcp", "PORT/tcp", "PORT/tcp"]`, "knockd read it from one_time_sequences = "+e.OneTime.Value)
		d.missing = append(d.missing, "a fixed sequence")
	case e.SequenceLine == 0:
		w.add(e.Line, "[%s] has no sequence, so knockd itself refuses this file: add one, e.g. sequence = 7000,8000,9000", e.Name)
		d.add("sequence", `["PORT/tcp", "PORT/tcp", "PORT/tcp"]`, "")
		d.missing = append(d.missing, "a sequence")
	default: // invalid, already reported
		d.add("sequence", `["PORT/tcp", "PORT/tcp", "PORT/tcp"]`, "")
		d.missing = append(d.missing, "a sequence")
	}
	if e.OneTime != nil {
		w.add(e.OneTime.Line, "[%s] one_time_sequences has no knockc equivalent (a door in the kernel cannot rewrite its own sequence after each use): use a fixed sequence with strict = true and allow_from = [...] limited to the addresses you knock from", e.Name)
	}
	c := e.paired
	if c == nil {
		return
	}
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
	switch {
	case m.Grant != nil:
		for _, n := range m.Grant.Notes {
			w.add(m.Line, "[%s] %s", e.Name, n)
		}
		ports := make([]string, len(m.Grant.Ports))
		for i, p := range m.Grant.Ports {
			ports[i] = p.String()
		}
		d.add("protect", listValue(ports), "")
		d.openFor(e, w)
		if len(m.Grant.Families) == 1 {
			fam, tool := m.Grant.Families[0], "iptables (IPv4)"
			if fam == ruleset.IPv6 {
				tool = "ip6tables (IPv6)"
			}
			d.add("families", listValue([]string{fam.String()}), fmt.Sprintf("knockd's commands changed %s only", tool))
		}
	case m.Service != nil:
		d.add("protect", `["PORT/tcp"]`, "the port "+m.Service.Unit+" serves")
		d.missing = append(d.missing, "the port it protects")
		w.add(m.Line, "[%s] start_command starts %s but names no port: write the port it serves in protect = [\"PORT/tcp\"] of door %q (written out commented) and uncomment it", e.Name, m.Service.Unit, d.name)
		d.openFor(e, w)
		d.add("service", quote(m.Service.Unit), "")
	default:
		d.add("protect", `["PORT/tcp"]`, "")
		d.missing = append(d.missing, "the port it protects")
		advice := "write the ports it should open in protect = [\"PORT/tcp\"] of door %q (written out commented)"
		if !m.IPTables {
			advice = "knockc runs no shell and has no %%IP%%: list the ports it opens in protect of door %q (written out commented); to run it as well, put it in a script that reads the knocker's address from $KNOCKC_ADDR, named in on_open = [\"/path/to/script\"]"
			d.add("on_open", `["/path/to/script"]`, "was: "+commandOf(e))
		}
		if e.Stop != nil && e.Stop.Value != "" {
			d.add("open_for", quote(duration(min(e.CmdTimeout, maxOpenFor))), "knockd's cmd_timeout, after which stop_command ran")
		}
		w.add(m.Line, "[%s] %s: "+advice, e.Name, m.Why, d.name)
	}
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

// openFor writes open_for: knockd's cmd_timeout when stop_command undoes
// start_command, else knockc's default with a note.
func (d *doorOut) openFor(e *event, w *warner) {
	m := e.meaning
	if e.Stop != nil && e.Stop.Value != "" {
		if reverses(m, interpretCommand(e.Stop)) {
			secs := e.CmdTimeout
			if secs > maxOpenFor {
				w.add(e.Stop.Line, "[%s] cmd_timeout = %d: knockc's open_for is at most 168h; took that", e.Name, secs)
				secs = maxOpenFor
			}
			d.add("open_for", quote(duration(secs)), "knockd's cmd_timeout, after which stop_command ran")
			d.stop6(e, w)
			return
		}
		w.add(e.Stop.Line, "[%s] stop_command %q does not undo start_command: knockc ends a grant by itself after open_for; to run the command as well, put it in a script named in on_close = [\"/path/to/script\"]", e.Name, e.Stop.Value)
	}
	until := "for good"
	if e.paired != nil {
		until = "until the close sequence"
	}
	if m.Service != nil {
		d.add("open_for", quote(duration(defaultOpenFor)), "knockc's default", "knockd started "+m.Service.Unit+" and left it running "+until+";",
			"knockc's monitor stops it when the last knocker's grant ends.")
		return
	}
	d.add("open_for", quote(duration(defaultOpenFor)), "knockc's default", "knockd kept the port open "+until+". knockc lets the knocker",
		"open new connections for open_for (established ones live on): raise it,",
		"up to 168h, to come closer to knockd.")
}

// stop6 reports a stop_command_6 that does not undo start_command_6.
func (d *doorOut) stop6(e *event, w *warner) {
	if e.Stop6 == nil || e.Stop6.Value == "" || e.Start6 == nil || e.Start6.Value == "" {
		return
	}
	if !reverses(interpretCommand(e.Start6), interpretCommand(e.Stop6)) {
		w.add(e.Stop6.Line, "[%s] stop_command_6 %q does not undo start_command_6: knockc ends a grant by itself after open_for; to run the command as well, put it in a script named in on_close = [\"/path/to/script\"]", e.Name, e.Stop6.Value)
	}
}

// reverses reports whether stop undoes start: it deletes the same ACCEPT,
// or stops the same unit.
func reverses(start, stop meaning) bool {
	switch {
	case start.Grant != nil && stop.Grant != nil:
		return start.Grant.Insert && !stop.Grant.Insert && portsKey(start.Grant.Ports) == portsKey(stop.Grant.Ports)
	case start.Service != nil && stop.Service != nil:
		return start.Service.Start && !stop.Service.Start && start.Service.Unit == stop.Service.Unit
	}
	return false
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
