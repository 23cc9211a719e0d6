package compiler

import (
	"regexp"
	"sort"
	"strings"
	"time"

	"net/netip"

	"github.com/knockc/knockc/ruleset"
)

// doorNameRE is a door name after normalisation; it becomes part of
// nftables object names and NFLOG prefixes.
var doorNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// unitRE is a systemd service unit name.
var unitRE = regexp.MustCompile(`^[A-Za-z0-9:_.\\@-]+\.service$`)

var doorKeys = []string{
	"sequence", "close_sequence", "step_timeout", "seq_timeout", "tcp_flags", "strict",
	"protect", "open_for", "service", "start_command", "stop_command", "start_timeout", "pending", "stop_when_idle",
	"on_open", "on_close", "families", "allow_from", "flood_rate", "max_grants", "token", "grant_mark",
}

// normaliseDoorName lower-cases a door name and turns "-" into "_".
func normaliseDoorName(s string) string {
	return strings.ReplaceAll(strings.ToLower(s), "-", "_")
}

// loadDoors decodes every [door.NAME] section, sorted by normalised name.
func (l *loader) loadDoors(df field) []*Door {
	m, ok := l.table(df, "[door.NAME] sections")
	if !ok {
		return nil
	}
	var doors []*Door
	byName := map[string]*Door{}
	// In the order they were written, so a duplicate is reported at the
	// later one.
	fields := l.fields("door.", m)
	sort.SliceStable(fields, func(i, j int) bool { return l.headerPos(fields[i]).Offset < l.headerPos(fields[j]).Offset })
	for _, f := range fields {
		name := normaliseDoorName(f.name)
		switch {
		case !doorNameRE.MatchString(name) || len(name) > maxDoorName:
			l.errs.add(f.at(), "door name %q is not allowed: it must start with a letter and hold only letters, digits, - and _ (at most %d), as it names nftables objects", f.name, maxDoorName)
			continue
		case byName[name] != nil:
			l.errs.add(f.at(), "door %q is defined twice (door names are compared in lower case with - read as _; the other one is at %s)", f.name, byName[name].Pos)
			continue
		}
		d := l.loadDoor(name, f)
		if d == nil {
			continue
		}
		byName[name] = d
		doors = append(doors, d)
	}
	sort.Slice(doors, func(i, j int) bool { return doors[i].Name < doors[j].Name })
	return doors
}

// loadDoor decodes one door over the defaults; required keys are checked here,
// relations between keys in validate.
func (l *loader) loadDoor(name string, df field) *Door {
	m, ok := l.table(df, "[door."+df.name+"]")
	if !ok {
		return nil
	}
	d := &Door{
		Name: name, Pos: l.headerPos(df), StepTimeout: DefaultStepTimeout, OpenFor: DefaultOpenFor,
		TCPFlags: DefaultTCPFlags, Strict: true, StartTimeout: DefaultStartTimeout, Hold: true, StopWhenIdle: true,
		Families: []ruleset.Family{ruleset.IPv4, ruleset.IPv6}, FloodRate: DefaultFloodRate,
		MaxGrants: DefaultMaxGrants, pos: map[string]func() Pos{},
	}
	prefix := "door." + df.name + "."
	familiesSet := false
	for _, f := range l.fields(prefix, m) {
		d.pos[f.name] = f.at
		switch f.name {
		case "sequence":
			d.Sequence = l.sequence(f)
		case "close_sequence":
			d.CloseSequence = l.sequence(f)
		case "step_timeout":
			if v, ok := l.duration(f, Duration(100*time.Millisecond), Duration(time.Hour)); ok {
				d.StepTimeout = durationOf(v)
			}
		case "seq_timeout":
			if v, ok := l.duration(f, Duration(100*time.Millisecond), Duration(24*time.Hour)); ok {
				d.SeqTimeout = durationOf(v)
			}
		case "tcp_flags":
			l.text(f, &d.TCPFlags)
		case "strict":
			if b, ok := l.boolean(f); ok {
				d.Strict = b
			}
		case "protect":
			d.Protect = l.protect(f)
		case "open_for":
			if v, ok := l.duration(f, Duration(time.Second), Duration(7*24*time.Hour)); ok {
				d.OpenFor = durationOf(v)
			}
		case "service":
			if s, ok := l.str(f); ok {
				if !strings.Contains(s, ".") {
					s += ".service"
				}
				if !unitRE.MatchString(s) {
					l.errs.add(f.at(), "%s = %q is not a systemd service unit name (e.g. \"ssh.service\")", f.key, s)
				} else {
					d.Service = s
				}
			}
		case "start_command":
			d.StartCommand = l.argv(f)
		case "stop_command":
			d.StopCommand = l.argv(f)
		case "start_timeout":
			if v, ok := l.duration(f, Duration(time.Second), Duration(10*time.Minute)); ok {
				d.StartTimeout = durationOf(v)
			}
		case "pending":
			if s, ok := l.str(f); ok {
				switch s {
				case "hold", "drop":
					d.Hold = s == "hold"
				default:
					l.errs.add(f.at(), "%s = %q: allowed are \"hold\" (the knocker's first SYN waits until the service is up) and \"drop\" (it is dropped and the client resends it after about 1 s)", f.key, s)
				}
			}
		case "stop_when_idle":
			if b, ok := l.boolean(f); ok {
				d.StopWhenIdle = b
			}
		case "on_open":
			d.OnOpen = l.argv(f)
		case "on_close":
			d.OnClose = l.argv(f)
		case "families":
			familiesSet = true
			d.Families = l.families(f)
		case "allow_from":
			d.AllowFrom = l.prefixes(f)
		case "flood_rate":
			if n, ok := l.integer(f, 1, 1000000); ok {
				d.FloodRate = int(n)
			}
		case "max_grants":
			if n, ok := l.integer(f, 1, 1000000); ok {
				d.MaxGrants = int(n)
			}
		case "token":
			d.Token = l.loadToken(name, f)
		case "grant_mark":
			if n, ok := l.integer(f, 0, 0xffffffff); ok {
				m := uint32(n)
				d.GrantMark = &m
			}
		default:
			l.unknownKey(f, "[door."+df.name+"]", doorKeys)
		}
	}
	if _, ok := d.pos["sequence"]; !ok && d.Token == nil {
		l.errs.add(df.at(), "door %q has no sequence: add e.g. sequence = [\"7000/tcp\", \"8000/tcp\", \"9000/tcp\"]", name)
	}
	if _, ok := d.pos["protect"]; !ok {
		l.errs.add(df.at(), "door %q protects nothing: add e.g. protect = [\"22/tcp\"]", name)
	}
	if !familiesSet && len(d.AllowFrom) > 0 {
		d.Families = prefixFamilies(d.AllowFrom)
	}
	return d
}

// headerPos returns where a door's [door.NAME] header is, from an index of
// every door header built in one pass over the file; a door written another
// way (dotted keys, an inline table) is found by the decoder.
func (l *loader) headerPos(df field) Pos {
	if l.headers == nil {
		l.headers = map[string]int{}
		for off := 0; ; {
			i := strings.Index(l.src[off:], "[door.")
			if i < 0 {
				break
			}
			start := off + i
			end := strings.IndexByte(l.src[start:], ']')
			if end < 0 {
				break
			}
			name := strings.Trim(l.src[start+len("[door."):start+end], `"' `)
			if _, seen := l.headers[name]; !seen {
				l.headers[name] = start
			}
			off = start + end
		}
	}
	if off, ok := l.headers[df.name]; ok {
		return l.posAt(off)
	}
	return df.at()
}

// sequence decodes a knock sequence of 1 to MaxSteps steps.
func (l *loader) sequence(f field) []Step {
	steps, _, ok := l.steps(f)
	if !ok {
		return nil
	}
	if len(steps) == 0 || len(steps) > MaxSteps {
		l.errs.add(f.at(), "%s has %d steps (allowed 1 to %d)", f.key, len(steps), MaxSteps)
		return nil
	}
	return steps
}

// protect decodes the protected ports: at least one, none twice.
func (l *loader) protect(f field) []Step {
	steps, pos, ok := l.steps(f)
	if !ok {
		return nil
	}
	if len(steps) == 0 {
		l.errs.add(f.at(), "%s is empty: name at least one port, e.g. [\"22/tcp\"]", f.key)
	}
	seen := map[Step]bool{}
	for i, s := range steps {
		if seen[s] {
			l.errs.add(pos(i), "%s[%d]: %s is listed twice", f.key, i, s)
		}
		seen[s] = true
	}
	return steps
}

// families decodes a non-empty list of "ipv4" and "ipv6".
func (l *loader) families(f field) []ruleset.Family {
	names, pos, ok := l.strs(f)
	if !ok {
		return nil
	}
	var out []ruleset.Family
	seen := map[ruleset.Family]bool{}
	for i, n := range names {
		var fam ruleset.Family
		switch strings.ToLower(n) {
		case "ipv4", "ip", "inet4":
			fam = ruleset.IPv4
		case "ipv6", "ip6", "inet6":
			fam = ruleset.IPv6
		default:
			l.errs.add(pos(i), "%s[%d] = %q: allowed are \"ipv4\" and \"ipv6\"", f.key, i, n)
			continue
		}
		if seen[fam] {
			l.errs.add(pos(i), "%s[%d]: %q is listed twice", f.key, i, n)
			continue
		}
		seen[fam] = true
		out = append(out, fam)
	}
	if len(names) == 0 {
		l.errs.add(f.at(), "%s is empty: allowed are \"ipv4\" and \"ipv6\"", f.key)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// prefixFamilies returns the families the prefixes belong to, in order.
func prefixFamilies(ps []netip.Prefix) []ruleset.Family {
	var has4, has6 bool
	for _, p := range ps {
		if ruleset.FamilyOf(p.Addr()) == ruleset.IPv4 {
			has4 = true
		} else {
			has6 = true
		}
	}
	var out []ruleset.Family
	if has4 {
		out = append(out, ruleset.IPv4)
	}
	if has6 {
		out = append(out, ruleset.IPv6)
	}
	return out
}

func durationOf(d Duration) time.Duration { return time.Duration(d) }
