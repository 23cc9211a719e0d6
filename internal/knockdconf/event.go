package knockdconf

import (
	"fmt"
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

	meaning meaning // what Start (and Start6) do
	paired  *event  // the section that undoes this one's grant, or the one it undoes
}

// meaning is what a section's start command does, as far as knockc is
// concerned.
type meaning struct {
	Grant    *grant      // iptables ACCEPT for %IP% added (or deleted)
	Service  *serviceCmd // a service started
	Why      string      // why it is neither, for the warning
	IPTables bool        // Why is about an iptables rule that grants nothing
	None     bool        // the section runs no command at all
	Line     int         // where the command that decided it is
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

// interpret decides what the section's start command means for knockc.
func (e *event) interpret() meaning {
	start := e.Start
	if start == nil || start.Value == "" {
		start = e.Start6
	}
	if start == nil || start.Value == "" {
		return meaning{Why: "runs no command (no start_command), so completing its sequence does nothing", None: true, Line: e.Line}
	}
	m := interpretCommand(start)
	if m.Grant != nil && e.Start6 != nil && e.Start6 != start && e.Start6.Value != "" {
		m6 := interpretCommand(e.Start6)
		switch {
		case m6.Grant == nil && m6.Why == "":
			return meaning{Why: "start_command_6 does something else than start_command, and a knockc door does the same over both families", Line: e.Start6.Line}
		case m6.Grant == nil:
			m6.Why = "start_command_6 " + m6.Why
			return m6
		case m6.Grant.Insert != m.Grant.Insert || portsKey(m6.Grant.Ports) != portsKey(m.Grant.Ports):
			return meaning{Why: "start_command_6 changes other ports than start_command, and a knockc door grants the same ports over both families", IPTables: true, Line: e.Start6.Line}
		case m6.Grant.Families[0] != m.Grant.Families[0]:
			both := *m.Grant
			both.Notes = append(append([]string(nil), m.Grant.Notes...), m6.Grant.Notes...)
			both.Families = []ruleset.Family{ruleset.IPv4, ruleset.IPv6}
			m.Grant = &both
		}
	}
	return m
}

// interpretCommand classifies one start or stop command.
func interpretCommand(d *directive) meaning {
	m := meaning{Line: d.Line}
	words, err := split(d.Value)
	if err != nil {
		m.Why = fmt.Sprintf("%q %v", d.Value, err)
		return m
	}
	g, err := parseIPTables(words)
	switch {
	case err == nil:
		m.Grant = g
		return m
	case err != errNotIPTables:
		m.Why = fmt.Sprintf("%q %v", d.Value, err)
		m.IPTables = true
		return m
	}
	if s := parseService(words); s != nil {
		m.Service = s
		return m
	}
	m.Why = fmt.Sprintf("%q is neither an iptables ACCEPT for %%IP%% nor a service start", d.Value)
	return m
}

// portsKey renders ports for comparison and messages: "22/tcp, 80/tcp".
func portsKey(ps []port) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.String()
	}
	return strings.Join(parts, ", ")
}
