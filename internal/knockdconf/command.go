package knockdconf

import (
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/knockc/knockc/ruleset"
)

// grant is what an iptables command that opens (or closes) a port for the
// knocker means: ACCEPT from %IP% to these ports in the INPUT chain.
type grant struct {
	Insert   bool // -A/-I; false for -D
	Families []ruleset.Family
	Ports    []port
	Notes    []string // translated, but worth a look
}

// port is one protected port; Proto is "tcp" or "udp".
type port struct {
	Num   int
	Proto string
}

func (p port) String() string { return fmt.Sprintf("%d/%s", p.Num, p.Proto) }

// key identifies the rule a grant inserts or deletes, so an -A and a -D of
// the same rule can be paired.
func (g *grant) key() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v", g.Families)
	for _, p := range g.Ports {
		fmt.Fprintf(&b, " %s", p)
	}
	return b.String()
}

// serviceCmd is a plain service start or stop: systemctl, service or an
// init script.
type serviceCmd struct {
	Unit  string // "ssh.service"
	Start bool
}

// shellMeta are the characters that make a command more than one program
// call with plain arguments; such a command is never translated.
const shellMeta = ";&|`$()<>\n"

// split breaks a command into words as a shell would for simple cases:
// blanks separate words, single and double quotes group them. It fails on
// shell syntax beyond that (pipes, lists, substitutions, redirections) and
// on an unterminated quote.
func split(cmd string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range cmd {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case strings.ContainsRune(shellMeta, r) || r == '\\':
			return nil, fmt.Errorf("uses shell syntax (%q)", r)
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, errors.New("has an unterminated quote")
	}
	if inWord {
		words = append(words, cur.String())
	}
	if len(words) == 0 {
		return nil, errors.New("is empty")
	}
	return words, nil
}

// errNotIPTables says a command is not an iptables call at all.
var errNotIPTables = errors.New("not iptables")

// parseIPTables reads an iptables or ip6tables command that accepts
// packets from the knocker (-s %IP%) to some ports in the INPUT chain. It
// returns errNotIPTables for other programs, and an error saying what
// cannot be translated for any other iptables rule.
func parseIPTables(words []string) (*grant, error) {
	g := &grant{}
	switch path.Base(words[0]) {
	case "iptables", "iptables-legacy", "iptables-nft":
		g.Families = []ruleset.Family{ruleset.IPv4}
	case "ip6tables", "ip6tables-legacy", "ip6tables-nft":
		g.Families = []ruleset.Family{ruleset.IPv6}
	default:
		return nil, errNotIPTables
	}
	var chain, source, proto, target string
	var op string
	var dports []string
	args := words[1:]
	next := func(i *int, opt string) (string, error) {
		if *i+1 >= len(args) {
			return "", fmt.Errorf("%s needs a value", opt)
		}
		*i++
		return args[*i], nil
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		var v string
		var err error
		switch a {
		case "-A", "--append", "-I", "--insert", "-D", "--delete":
			if op != "" {
				return nil, fmt.Errorf("names two commands (%s and %s)", op, a)
			}
			op = a
			if chain, err = next(&i, a); err != nil {
				return nil, err
			}
			if (a == "-I" || a == "--insert") && i+1 < len(args) {
				if _, err := strconv.Atoi(args[i+1]); err == nil {
					i++ // a rule number: where it goes does not matter here
				}
			}
		case "-t", "--table":
			if v, err = next(&i, a); err != nil {
				return nil, err
			}
			if v != "filter" {
				return nil, fmt.Errorf("works on table %q: knockc gates only what arrives for this host (filter INPUT)", v)
			}
		case "-s", "--source", "--src":
			if source, err = next(&i, a); err != nil {
				return nil, err
			}
		case "-p", "--protocol":
			if proto, err = next(&i, a); err != nil {
				return nil, err
			}
		case "--dport", "--destination-port":
			if v, err = next(&i, a); err != nil {
				return nil, err
			}
			dports = append(dports, v)
		case "--dports", "--destination-ports":
			if v, err = next(&i, a); err != nil {
				return nil, err
			}
			dports = append(dports, strings.Split(v, ",")...)
		case "-m", "--match":
			if v, err = next(&i, a); err != nil {
				return nil, err
			}
			switch v {
			case "tcp", "udp", "state", "conntrack", "multiport", "comment":
			default:
				return nil, fmt.Errorf("uses match %q, which knockc has no equivalent for", v)
			}
		case "--state", "--ctstate", "--comment":
			if _, err = next(&i, a); err != nil {
				return nil, err
			}
		case "--syn":
			// knockc grants new connections anyway
		case "-j", "--jump":
			if target, err = next(&i, a); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("uses %s, which knockc has no equivalent for", a)
		}
	}
	switch {
	case op == "":
		return nil, errors.New("neither adds (-A, -I) nor deletes (-D) a rule")
	case chain != "INPUT":
		return nil, fmt.Errorf("changes chain %q: knockc gates only what arrives for this host (INPUT)", chain)
	case target != "ACCEPT":
		return nil, fmt.Errorf("jumps to %q, not ACCEPT: knockc's grant can only let the knocker through", target)
	case source != "%IP%" && source != "%IP%/32" && source != "%IP%/128":
		return nil, errors.New("does not match the knocker's address (-s %IP%), so it is not a grant")
	}
	g.Insert = op != "-D" && op != "--delete"
	switch proto {
	case "tcp", "udp":
	case "":
		if len(dports) > 0 {
			proto = "tcp"
			g.Notes = append(g.Notes, "--dport without -p, which iptables itself refuses; read as -p tcp")
		}
	default:
		return nil, fmt.Errorf("matches protocol %q: knockc protects tcp and udp ports", proto)
	}
	if len(dports) == 0 {
		what := proto + " port"
		if proto == "" {
			what = "port of every protocol"
		}
		return nil, fmt.Errorf("has no --dport, so it opens every %s to the knocker: knockc protects the ports it is told", what)
	}
	for _, d := range dports {
		n, err := strconv.Atoi(d)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("opens port %q: knockc protects single ports from 1 to 65535, not ranges or names", d)
		}
		g.Ports = append(g.Ports, port{n, proto})
	}
	return g, nil
}

// parseService reads a plain start or stop of one service: "systemctl
// start X", "service X start", "/etc/init.d/X start", "invoke-rc.d X
// start". It returns nil for anything else.
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
	case base == "service" || base == "invoke-rc.d":
		if len(words) != 3 {
			return nil
		}
		unit, verb = words[1], words[2]
	case path.Dir(words[0]) == "/etc/init.d":
		if len(words) != 2 {
			return nil
		}
		unit, verb = base, words[1]
	default:
		return nil
	}
	if verb != "start" && verb != "stop" {
		return nil
	}
	if !strings.Contains(unit, ".") {
		unit += ".service"
	}
	if !strings.HasSuffix(unit, ".service") || strings.Contains(unit, "%") {
		return nil
	}
	return &serviceCmd{Unit: unit, Start: verb == "start"}
}
