package knockdconf

import (
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/knockc/knockc/ruleset"
)

// parseIPTables reads an iptables or ip6tables command that accepts
// packets to some ports in the INPUT chain: -A|-I CHAIN [n] or -D, -s,
// -p, --dport N|name, --dports, --syn, -m state|conntrack|comment|tcp|udp|
// multiport, -i IFACE. A check (-C) changes nothing.
func parseIPTables(words []string, resolve Services) (*grant, error) {
	fams, ok := familyOf(path.Base(words[0]))
	if !ok {
		return nil, errNotMine
	}
	g := &grant{Families: fams}
	var chain, source, proto, target, op string
	var dports []string
	var args []string
	for _, a := range words[1:] {
		if k, v, ok := strings.Cut(a, "="); ok && strings.HasPrefix(k, "--") {
			args = append(args, k, v) // --dport=22
			continue
		}
		args = append(args, a)
	}
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
		case "-A", "--append", "-I", "--insert", "-D", "--delete", "-C", "--check":
			if op != "" {
				return nil, fmt.Errorf("names two commands (%s and %s)", op, a)
			}
			op = a
			if chain, err = next(&i, a); err != nil {
				return nil, err
			}
			if i+1 < len(args) && op != "-A" && op != "--append" {
				if _, err := strconv.Atoi(args[i+1]); err == nil {
					i++ // a rule number: where the rule goes does not matter here
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
		case "-p", "--protocol", "--proto":
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
		case "-i", "--in-interface":
			if g.Iface, err = next(&i, a); err != nil {
				return nil, err
			}
		case "-m", "--match":
			if v, err = next(&i, a); err != nil {
				return nil, err
			}
			switch v {
			case "tcp", "udp", "state", "conntrack", "multiport", "comment":
			case "limit":
				g.Notes = append(g.Notes, "-m limit caps how often the rule matches; knockc does not rate-limit the knocker's connections")
			default:
				return nil, fmt.Errorf("uses match %q, which knockc has no equivalent for", v)
			}
		case "--tcp-flags":
			// --tcp-flags MASK COMP: a SYN match like --syn.
			if _, err = next(&i, a); err == nil {
				_, err = next(&i, a)
			}
			if err != nil {
				return nil, err
			}
		case "-d", "--destination", "--dst":
			if v, err = next(&i, a); err != nil {
				return nil, err
			}
			g.Notes = append(g.Notes, fmt.Sprintf("allows only to address %s; knockc's grant covers every address of this host", v))
		case "--state", "--ctstate", "--comment", "--limit", "--limit-burst":
			if _, err = next(&i, a); err != nil {
				return nil, err
			}
		case "--syn", "-w", "--wait":
			// knockc grants new connections anyway; -w is iptables' lock wait.
			if a != "--syn" && i+1 < len(args) {
				if _, err := strconv.Atoi(args[i+1]); err == nil {
					i++
				}
			}
		case "-j", "--jump":
			if target, err = next(&i, a); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("uses %s, which knockc has no equivalent for", a)
		}
	}
	switch op {
	case "":
		return nil, errors.New("neither adds (-A, -I) nor deletes (-D) a rule")
	case "-C", "--check":
		return nil, nil
	}
	g.Insert = op != "-D" && op != "--delete"
	switch chain {
	case "INPUT":
	case "FORWARD", "OUTPUT", "PREROUTING", "POSTROUTING":
		return nil, fmt.Errorf("changes chain %q: knockc gates only what arrives for this host (INPUT)", chain)
	default:
		g.Notes = append(g.Notes, fmt.Sprintf("adds to chain %q, read as reached from INPUT: knockc gates what arrives for this host", chain))
	}
	switch {
	case target == "DROP" || target == "REJECT":
		if source != "" || g.Insert {
			return nil, fmt.Errorf("jumps to %s: it shuts a port rather than opening it, and knockc has no ban list", target)
		}
		// Deleting a DROP for everyone opens the port for everyone.
		g.Everyone, g.Insert = true, !g.Insert
		g.Notes = append(g.Notes, fmt.Sprintf("deletes a %s rule, which opens the port to every address until it is added again", target))
	case target != "ACCEPT":
		return nil, fmt.Errorf("jumps to %q, not ACCEPT: knockc's grant can only let the knocker through", target)
	case source == "":
		g.Everyone = true
	case !isKnocker(source):
		return nil, fmt.Errorf("matches source %q, not the knocker's address (-s %%IP%%), so it is no grant", source)
	}
	switch proto {
	case "6":
		proto = "tcp"
	case "17":
		proto = "udp"
	}
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
		what := "every " + proto + " port"
		if proto == "" {
			what = "every port of every protocol"
		}
		return nil, fmt.Errorf("has no --dport, so it opens %s to the knocker", what)
	}
	var err error
	if g.Ports, err = parsePorts(dports, proto, resolve); err != nil {
		return nil, err
	}
	return g, nil
}

// parseKnockHelper reads knockd's own helper scripts, knock_add and
// knock_helper_ipt.sh: -a|-i (append, insert) or -x|-D (delete), -f
// SRC, -d PORT, -p PROTO (tcp), -c CHAIN (INPUT), -m COMMENT.
func parseKnockHelper(words []string, resolve Services) (*grant, error) {
	switch path.Base(words[0]) {
	case "knock_add", "knock_helper_ipt.sh", "knock_helper_ipt":
	default:
		return nil, errNotMine
	}
	g := &grant{Families: []ruleset.Family{ruleset.IPv4}}
	chain, proto, op, src := "INPUT", "tcp", "", ""
	var dports []string
	args := words[1:]
	for i := 0; i < len(args); i++ {
		a := args[i]
		val := func() string {
			if i+1 < len(args) {
				i++
				return args[i]
			}
			return ""
		}
		switch a {
		case "-a", "--append", "-i", "--insert":
			op = "add"
		case "-x", "-D", "--delete":
			op = "delete"
		case "-f", "--srcaddr":
			src = val()
		case "-d", "--dstport":
			dports = append(dports, val())
		case "-p", "--proto":
			proto = val()
		case "-c", "--chain":
			chain = val()
		case "-m", "--comment":
			if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				i++
			}
		case "-t", "--test", "-v", "--verbose":
			if a == "-t" || a == "--test" {
				return nil, errors.New("is a test run (-t) that changes nothing")
			}
		default:
			return nil, fmt.Errorf("uses %s, which knockc has no equivalent for", a)
		}
	}
	switch {
	case op == "":
		return nil, errors.New("neither adds (-a, -i) nor deletes (-x) a rule")
	case chain != "INPUT":
		return nil, fmt.Errorf("changes chain %q: knockc gates only what arrives for this host (INPUT)", chain)
	case !isKnocker(src):
		return nil, errors.New("does not name the knocker's address (-f %IP%)")
	case proto != "tcp" && proto != "udp":
		return nil, fmt.Errorf("matches protocol %q: knockc protects tcp and udp ports", proto)
	case len(dports) == 0:
		return nil, errors.New("names no port (-d)")
	}
	g.Insert = op == "add"
	var err error
	if g.Ports, err = parsePorts(dports, proto, resolve); err != nil {
		return nil, err
	}
	return g, nil
}
