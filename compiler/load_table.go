package compiler

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/knockc/knockc/ruleset"
)

// identRE is what knockc allows as an nftables table name.
var identRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// ifaceRE is a Linux interface name, optionally ending in "*" for a prefix.
var ifaceRE = regexp.MustCompile(`^[A-Za-z0-9_.:@-]{1,15}\*?$`)

var tableKeys = []string{"name", "priority", "log_group", "hold_queue", "closed", "interfaces", "answer_port", "grant_mark"}

// loadTable decodes the [table] section over the defaults already in t.
func (l *loader) loadTable(t *TableSpec, tf field) {
	m, ok := l.table(tf, "[table]")
	if !ok {
		return
	}
	holdSet := false
	defer func() {
		if !holdSet {
			t.HoldQueue = t.LogGroup
		}
	}()
	for _, f := range l.fields("table.", m) {
		switch f.name {
		case "name":
			if s, ok := l.str(f); ok {
				if !identRE.MatchString(s) || len(s) > 32 {
					l.errs.add(f.at(), "table.name %q is not a valid nftables name (a letter, then letters, digits or _; at most 32)", s)
				} else {
					t.Name = s
				}
			}
		case "priority":
			l.priority(t, f)
		case "log_group":
			if n, ok := l.integer(f, 0, 65535); ok {
				t.LogGroup = uint16(n)
			}
		case "hold_queue":
			if n, ok := l.integer(f, 0, 65535); ok {
				t.HoldQueue = uint16(n)
				holdSet = true
			}
		case "closed":
			if s, ok := l.str(f); ok {
				if s != "reject" && s != "drop" {
					l.errs.add(f.at(), "table.closed = %q: allowed are \"reject\" (answer like a closed port) and \"drop\" (silence)", s)
				} else {
					t.Closed = s
				}
			}
		case "interfaces":
			names, pos, ok := l.strs(f)
			if !ok {
				continue
			}
			if len(names) == 0 {
				l.errs.add(f.at(), "table.interfaces is empty: leave it out to accept knocks on every interface but lo")
			}
			seen := map[string]bool{}
			for i, n := range names {
				switch {
				case !ifaceRE.MatchString(n) || n == "*":
					l.errs.add(pos(i), "table.interfaces[%d]: %q is not an interface name (at most 15 characters; a trailing * matches a prefix)", i, n)
				case seen[n]:
					l.errs.add(pos(i), "table.interfaces[%d]: %q is listed twice", i, n)
				}
				seen[n] = true
			}
			t.Interfaces = names
		case "answer_port":
			if n, ok := l.integer(f, 0, 65535); ok {
				t.AnswerPort = uint16(n)
				t.answerAt = f.at
			}
		case "grant_mark":
			if n, ok := l.integer(f, 0, 0xffffffff); ok {
				t.GrantMark = uint32(n)
			}
		default:
			l.unknownKey(f, "[table]", tableKeys)
		}
	}
}

// priority decodes table.priority: an integer, or a name with an optional
// offset ("mangle + 10"). It must come after conntrack (-200), or knockc
// could not let established sessions through.
func (l *loader) priority(t *TableSpec, f field) {
	var n int64
	switch v := l.raw(f).(type) {
	case int64:
		n = v
	case string:
		name, off, sign := strings.TrimSpace(v), "", int64(1)
		if i := strings.IndexAny(v, "+-"); i > 0 {
			name, off = strings.TrimSpace(v[:i]), strings.TrimSpace(v[i+1:])
			if v[i] == '-' {
				sign = -1
			}
		}
		base, ok := ruleset.NamedPriority(ruleset.HookInput, name)
		o, err := strconv.ParseInt(off, 10, 32)
		if off == "" {
			o, err = 0, nil
		}
		if !ok || err != nil {
			l.errs.add(f.at(), "table.priority = %q: write an integer or a name (%s) with an optional offset such as \"mangle + 10\"", v, strings.Join(ruleset.PriorityNames(ruleset.HookInput), ", "))
			return
		}
		n = int64(base) + sign*o
	default:
		l.errs.add(f.at(), "table.priority must be an integer, not %s", l.typeName(f))
		return
	}
	if n <= -200 || n > 1000 {
		l.errs.add(f.at(), "table.priority = %d is out of range (allowed -199 to 1000: knockc's chain must run after conntrack at -200 to let established sessions through)", n)
		return
	}
	t.Priority = int(n)
}
