package knockdconf

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/knockc/knockc/ruleset"
)

// grant is what a firewall command that lets the knocker in (or takes
// that back) means to knockc: these ports, for the knocker's address.
type grant struct {
	Insert   bool             // added; false for deleted
	Families []ruleset.Family // nil: both (ufw, firewall-cmd, nft inet)
	Ports    []port
	Iface    string // iptables -i, ufw "on IFACE", nft iifname: where knocks count
	Everyone bool   // the rule does not match %IP%: knockd opened it to all
	OpenFor  int    // seconds the firewall itself keeps it (firewall-cmd --timeout); 0: until deleted
	Notes    []string
}

// port is one protected port; Proto is "tcp" or "udp".
type port struct {
	Num   int
	Proto string
}

func (p port) String() string { return fmt.Sprintf("%d/%s", p.Num, p.Proto) }

// serviceCmd is a plain start or stop of a service: systemctl, service,
// invoke-rc.d or an init script.
type serviceCmd struct {
	Unit  string // "ssh.service"
	Start bool   // start or restart; false: stop
}

// part is one simple command of a knockd command, read for what it means.
// Exactly one of Grant, Service, Noop, Refused and Other is set.
type part struct {
	Text    string
	Grant   *grant
	Service *serviceCmd
	Noop    bool   // changes nothing knockc models: logger, echo, iptables -C
	Refused string // a firewall command knockc cannot express, and why
	Other   string // a program knockc does not know (a script): why it is not translated
	Undo    bool   // a Refused firewall command that deletes a rule rather than adding it
	Sleep   int    // seconds, for a Noop "sleep N"
}

// undoWords mark a firewall command that deletes what another added.
var undoWords = map[string]bool{
	"-D": true, "--delete": true, "-x": true, "delete": true, "destroy": true,
	"--remove-rich-rule": true, "--remove-service": true, "--remove-port": true,
}

// isUndo reports whether words delete a firewall rule.
func isUndo(words []string) bool {
	for _, w := range words[1:] {
		k, _, _ := strings.Cut(w, "=")
		if undoWords[k] {
			return true
		}
	}
	return false
}

// errNotMine says a parser does not handle this program at all.
var errNotMine = errors.New("not this program")

// parsers read one firewall program each; they return errNotMine for other
// programs and an error that says why for a rule that is no grant.
var parsers = []func(words []string, resolve Services) (*grant, error){
	parseIPTables, parseKnockHelper, parseUFW, parseFirewallCmd, parseNft, parseIPSet,
}

// unwrap drops what runs a command rather than being it: sudo [-flags],
// exec, nohup, setsid, command, env and VAR=value, nice [-n N], timeout
// [-flags] DURATION.
func unwrap(words []string) []string {
	for len(words) > 1 {
		switch w := path.Base(words[0]); {
		case w == "sudo" || w == "env":
			words = words[1:]
			for len(words) > 1 && strings.HasPrefix(words[0], "-") {
				words = words[1:]
			}
		case w == "exec" || w == "nohup" || w == "setsid" || w == "command":
			words = words[1:]
		case strings.Contains(words[0], "=") && !strings.HasPrefix(words[0], "-"):
			words = words[1:]
		case w == "nice":
			words = words[1:]
			if len(words) > 2 && words[0] == "-n" {
				words = words[2:]
			}
		case w == "timeout":
			words = words[1:]
			for len(words) > 1 && strings.HasPrefix(words[0], "-") {
				words = words[1:]
			}
			if len(words) > 1 {
				words = words[1:] // the duration
			}
		default:
			return words
		}
	}
	return words
}

// classifyAll reads one simple command into its parts: one, or those of
// the command line it hands to a shell (sh -c '…').
func classifyAll(s simple, resolve Services) []part {
	w := unwrap(s.Words)
	if s.Problem == "" && len(w) == 3 && w[1] == "-c" {
		switch path.Base(w[0]) {
		case "sh", "bash", "dash":
			list, err := splitList(w[2])
			if err != nil {
				return []part{{Text: s.Text, Other: err.Error()}}
			}
			var out []part
			for _, inner := range list {
				out = append(out, classifyAll(inner, resolve)...)
			}
			return out
		}
	}
	return []part{classify(s, resolve)}
}

// classify reads one simple command.
func classify(s simple, resolve Services) part {
	p := part{Text: s.Text}
	if s.Problem != "" {
		p.Other = s.Problem
		return p
	}
	words := unwrap(s.Words)
	if len(words) == 0 {
		p.Noop = true
		return p
	}
	switch path.Base(words[0]) {
	case "sleep":
		p.Noop = true
		if len(words) == 2 {
			p.Sleep, _ = firewalldSeconds(words[1])
		}
		return p
	case "logger", "echo", "true", ":", "printf", "wall":
		p.Noop = true
		return p
	}
	for _, parse := range parsers {
		g, err := parse(words, resolve)
		switch {
		case err == nil && g == nil:
			p.Noop = true
			return p
		case err == nil:
			p.Grant = g
			return p
		case !errors.Is(err, errNotMine):
			p.Refused, p.Undo = err.Error(), isUndo(words)
			return p
		}
	}
	if s := parseService(words); s != nil {
		p.Service = s
		return p
	}
	p.Other = "is neither a firewall rule for %IP% nor a service start or stop"
	return p
}

// family returns the address family a program name implies.
func familyOf(prog string) ([]ruleset.Family, bool) {
	switch prog {
	case "iptables", "iptables-legacy", "iptables-nft":
		return []ruleset.Family{ruleset.IPv4}, true
	case "ip6tables", "ip6tables-legacy", "ip6tables-nft":
		return []ruleset.Family{ruleset.IPv6}, true
	}
	return nil, false
}

// isKnocker reports whether an address argument is knockd's %IP%.
func isKnocker(a string) bool {
	return a == "%IP%" || a == "%IP%/32" || a == "%IP%/128"
}

// parsePorts resolves port arguments ("22", "ssh", "80,443") for proto.
func parsePorts(args []string, proto string, resolve Services) ([]port, error) {
	var out []port
	for _, a := range args {
		for _, s := range strings.Split(a, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			if n, err := strconv.Atoi(s); err == nil {
				if n < 1 || n > 65535 {
					return nil, fmt.Errorf("opens port %d: ports run from 1 to 65535", n)
				}
				out = append(out, port{n, proto})
				continue
			}
			if strings.ContainsAny(s, ":-") {
				return nil, fmt.Errorf("opens the port range %q: knockc protects single ports; list each one", s)
			}
			ps := resolve(s, proto)
			if len(ps) == 0 {
				return nil, fmt.Errorf("opens port %q, a name neither /etc/services nor knockc's own table knows", s)
			}
			out = append(out, ps...)
		}
	}
	return out, nil
}

// parseService reads a plain start or stop of one service: "systemctl
// start|restart|stop X", "service X start", "/etc/init.d/X start",
// "invoke-rc.d X start". It returns nil for anything else.
func parseService(words []string) *serviceCmd {
	var unit, verb string
	switch base := path.Base(words[0]); {
	case base == "systemctl":
		var rest []string
		for _, w := range words[1:] {
			if !strings.HasPrefix(w, "-") {
				rest = append(rest, w)
			}
		}
		if len(rest) != 2 {
			return nil
		}
		verb, unit = rest[0], rest[1]
	case base == "service" || base == "invoke-rc.d" || base == "rc-service":
		if len(words) != 3 {
			return nil
		}
		unit, verb = words[1], words[2]
	case path.Dir(words[0]) == "/etc/init.d" || path.Dir(words[0]) == "/etc/rc.d":
		if len(words) != 2 {
			return nil
		}
		unit, verb = base, words[1]
	default:
		return nil
	}
	switch verb {
	case "start", "restart", "reload-or-restart", "try-restart":
		verb = "start"
	case "stop":
	default:
		return nil
	}
	if !strings.Contains(unit, ".") {
		unit += ".service"
	}
	if !strings.HasSuffix(unit, ".service") || strings.ContainsAny(unit, "%$") {
		return nil
	}
	return &serviceCmd{Unit: unit, Start: verb == "start"}
}

// portsKey renders ports sorted by number for comparison and messages:
// "22/tcp, 80/tcp", each once.
func portsKey(ps []port) string {
	sorted := append([]port(nil), ps...)
	sort.Slice(sorted, func(i, j int) bool {
		if sorted[i].Num != sorted[j].Num {
			return sorted[i].Num < sorted[j].Num
		}
		return sorted[i].Proto < sorted[j].Proto
	})
	var parts []string
	for i, p := range sorted {
		if i == 0 || p != sorted[i-1] {
			parts = append(parts, p.String())
		}
	}
	return strings.Join(parts, ", ")
}
