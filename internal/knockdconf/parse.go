package knockdconf

import (
	"strings"
)

// directive is one "key = value" line of knockd.conf; Key is upper case,
// as knockd compares keys.
type directive struct {
	Key      string
	Value    string
	HasValue bool // false for a bare key such as UseSyslog
	Line     int
}

// section is one [name] block with its directives in order.
type section struct {
	Name       string
	Line       int
	Directives []directive
}

// config is knockd.conf as knockd itself splits it: [options] and the
// event sections in order, plus lines it would refuse.
type config struct {
	Options  []directive
	Sections []*section
	Stray    []directive // directives before any section
	Bad      []directive // lines that are neither a section nor key = value
}

// parse splits knockd.conf the way knockd 0.8 does: lines are trimmed,
// empty lines and lines starting with '#' are skipped, "[name]" starts a
// section ("options" holds the global options), and every other line is
// KEY = VALUE, split at the first '=' (only UseSyslog goes without one).
func parse(data string) *config {
	c := &config{}
	var cur *section
	inOptions := false
	for i, raw := range strings.Split(data, "\n") {
		line := strings.TrimSpace(raw)
		n := i + 1
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") && len(line) > 2 {
			name := line[1 : len(line)-1]
			if name == "options" {
				inOptions, cur = true, nil
				continue
			}
			inOptions = false
			cur = &section{Name: name, Line: n}
			c.Sections = append(c.Sections, cur)
			continue
		}
		key, value, found := strings.Cut(line, "=")
		d := directive{Key: strings.ToUpper(strings.TrimSpace(key)), Value: strings.TrimSpace(value), HasValue: found, Line: n}
		switch {
		case d.Key == "" || strings.HasPrefix(line, "["):
			d.Value = line
			c.Bad = append(c.Bad, d)
		case inOptions:
			c.Options = append(c.Options, d)
		case cur != nil:
			cur.Directives = append(cur.Directives, d)
		default:
			c.Stray = append(c.Stray, d)
		}
	}
	return c
}
