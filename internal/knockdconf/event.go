package knockdconf

import (
	"strings"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/ruleset"
)

// knockd's defaults (knockd.c): SEQ_TIMEOUT and CMD_TIMEOUT, in seconds.
const (
	knockdSeqTimeout = 25
	knockdCmdTimeout = 10
)

// event is one knockd section with its directives looked up, knockd's
// aliases resolved (command = start_command, timeout = seq_timeout).
type event struct {
	*section
	Sequence      []compiler.Step
	SequenceLine  int
	OneTime       *directive
	SeqTimeout    int // seconds; knockdSeqTimeout when not given
	SeqTimeoutSet *directive
	TCPFlags      *directive
	Start, Start6 *directive
	Stop, Stop6   *directive
	CmdTimeout    int // seconds; knockdCmdTimeout when not given
	Target        *directive

	meaning meaning  // what Start (and Start6) do
	paired  *event   // the section that undoes this one's grant, or the one it undoes
	resolve Services // port names
	merged  *event   // the section this one was folded into (mergeFamilies)
	also    []*event // the sections folded into this one
	guessed bool     // paired by twin: its own command was not understood
}

// meaning is what a section's start command (and start_command_6) does,
// as far as knockc is concerned: its simple commands, each read.
type meaning struct {
	Parts []part
	None  bool   // the section runs no command at all
	Why   string // for None
	Line  int    // of the command
}

// grants returns the grants of m that add (insert) or delete a rule.
func (m meaning) grants(insert bool) []*grant {
	var out []*grant
	for _, p := range m.Parts {
		if p.Grant != nil && p.Grant.Insert == insert {
			out = append(out, p.Grant)
		}
	}
	return out
}

// service returns the unit m starts (start) or stops, or nil.
func (m meaning) service(start bool) *serviceCmd {
	for _, p := range m.Parts {
		if p.Service != nil && p.Service.Start == start {
			return p.Service
		}
	}
	return nil
}

// ports returns the ports m's grants add (insert) or delete, in order,
// each once.
func (m meaning) ports(insert bool) []port {
	var out []port
	seen := map[port]bool{}
	for _, g := range m.grants(insert) {
		for _, p := range g.Ports {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// families returns the address families m's added grants cover; nil when
// they cover both (or m has none).
func (m meaning) families() []ruleset.Family {
	has := map[ruleset.Family]bool{}
	for _, g := range m.grants(true) {
		if g.Families == nil {
			return nil
		}
		for _, f := range g.Families {
			has[f] = true
		}
	}
	if len(has) != 1 {
		return nil
	}
	for f := range has {
		return []ruleset.Family{f}
	}
	return nil
}

// undoKey says what m does, so that an open and the section that undoes
// it can be matched: the ports it adds or deletes, and the unit it starts
// or stops.
func (m meaning) undoKey(insert bool) (ports, unit string) {
	if s := m.service(insert); s != nil {
		unit = s.Unit
	}
	return portsKey(m.ports(insert)), unit
}

// readEvent looks up the directives of s, reporting those knockd does not
// know and values it would misread.
func readEvent(s *section, w *warner) *event {
	e := &event{section: s, SeqTimeout: knockdSeqTimeout, CmdTimeout: knockdCmdTimeout}
	for i := range s.Directives {
		d := &s.Directives[i]
		switch d.Key {
		case "SEQUENCE":
			e.Sequence, e.SequenceLine = e.readSequence(d, w), d.Line
		case "ONE_TIME_SEQUENCES":
			e.OneTime = d
		case "SEQ_TIMEOUT", "TIMEOUT":
			e.SeqTimeout, e.SeqTimeoutSet = e.seconds(d, w, knockdSeqTimeout), d
		case "TCPFLAGS":
			e.TCPFlags = d
		case "START_COMMAND", "COMMAND":
			e.Start = d
		case "START_COMMAND_6", "COMMAND_6":
			e.Start6 = d
		case "STOP_COMMAND":
			e.Stop = d
		case "STOP_COMMAND_6":
			e.Stop6 = d
		case "CMD_TIMEOUT":
			e.CmdTimeout = e.seconds(d, w, knockdCmdTimeout)
		case "TARGET":
			e.Target = d
		case "USESYSLOG":
			w.option(d)
		default:
			w.add(d.Line, "[%s] %s: not a knockd directive, so knockd itself refuses this file: remove it", s.Name, strings.ToLower(d.Key))
		}
	}
	return e
}

// readSequence parses knockd's "7000,8000:udp,9000" as knockd does (a port
// with an optional :tcp or :udp, tcp by default); it reports and returns nil
// for a sequence knockc cannot take.
func (e *event) readSequence(d *directive, w *warner) []compiler.Step {
	var steps []compiler.Step
	for _, part := range strings.Split(d.Value, ",") {
		var s compiler.Step
		if err := s.UnmarshalText([]byte(strings.TrimSpace(part))); err != nil {
			w.add(d.Line, "[%s] sequence: %v: write each knock as PORT or PORT:udp", e.Name, err)
			return nil
		}
		steps = append(steps, s)
	}
	if len(steps) > compiler.MaxSteps {
		w.add(d.Line, "[%s] sequence has %d knocks; knockc allows at most %d: shorten it", e.Name, len(steps), compiler.MaxSteps)
		return nil
	}
	return steps
}

// seconds reads a knockd timeout as knockd's atoi does: the leading digits.
// Trailing text is reported; a value knockd reads as 0 (which would time
// out every sequence, or run stop_command at once) is reported and
// replaced by def.
func (e *event) seconds(d *directive, w *warner, def int) int {
	rest := strings.TrimSpace(d.Value)
	n, i := 0, 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' && n < 1e7 {
		n = n*10 + int(rest[i]-'0')
		i++
	}
	key := strings.ToLower(d.Key)
	switch {
	case n <= 0:
		w.add(d.Line, "[%s] %s = %q: knockd reads 0 seconds here; took knockd's default, %d: write a whole number of seconds", e.Name, key, d.Value, def)
		return def
	case i != len(rest):
		w.add(d.Line, "[%s] %s = %q: knockd reads only the leading number, %d seconds; took that: write it as %d", e.Name, key, d.Value, n, n)
	}
	return n
}

// interpret reads the section's start command, and start_command_6, for
// what they mean.
func (e *event) interpret(resolve Services) meaning {
	e.resolve = resolve
	m := meaning{Line: e.Line}
	for _, d := range []*directive{e.Start, e.Start6} {
		if d == nil || d.Value == "" {
			continue
		}
		if len(m.Parts) == 0 {
			m.Line = d.Line
		}
		m.Parts = append(m.Parts, interpretCommand(d, resolve).Parts...)
	}
	if len(m.Parts) == 0 {
		return meaning{Why: "runs no command (no start_command), so completing its sequence does nothing", None: true, Line: e.Line}
	}
	return m
}

// interpretCommand reads one start or stop command: each of its simple
// commands (knockd runs it with /bin/sh -c) for what it means.
func interpretCommand(d *directive, resolve Services) meaning {
	m := meaning{Line: d.Line}
	list, err := splitList(d.Value)
	if err != nil {
		m.Parts = []part{{Text: d.Value, Other: err.Error()}}
		return m
	}
	for _, s := range list {
		m.Parts = append(m.Parts, classifyAll(s, resolve)...)
	}
	selfClosing(m.Parts)
	return m
}

// selfClosing reads "add a rule; sleep N; delete it" in one command as a
// grant that lasts N seconds: the added grant gets OpenFor, and the delete
// becomes a no-op.
func selfClosing(parts []part) {
	for i, p := range parts {
		if p.Grant == nil || !p.Grant.Insert {
			continue
		}
		slept := 0
		for j := i + 1; j < len(parts); j++ {
			q := parts[j]
			slept += q.Sleep
			if q.Grant != nil && !q.Grant.Insert && portsKey(q.Grant.Ports) == portsKey(p.Grant.Ports) && slept > 0 {
				p.Grant.OpenFor = slept
				parts[j] = part{Text: q.Text, Noop: true}
				break
			}
		}
	}
}
