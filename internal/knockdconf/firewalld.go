package knockdconf

import (
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/knockc/knockc/ruleset"
)

// parseFirewallCmd reads firewall-cmd --add-rich-rule / --remove-rich-rule
// with a rule 'rule [family="ipv4"] source address="%IP%" port port="P"
// protocol="tcp" accept' (or service name="ssh"), and --add-service /
// --add-port, which open to everyone. --timeout becomes open_for.
func parseFirewallCmd(words []string, resolve Services) (*grant, error) {
	if path.Base(words[0]) != "firewall-cmd" {
		return nil, errNotMine
	}
	if len(words) > 1 && words[1] == "--direct" || len(words) > 2 && words[2] == "--direct" {
		return firewallDirect(words, resolve)
	}
	g := &grant{}
	var rule, what, value string
	for i := 1; i < len(words); i++ {
		k, v, hasV := strings.Cut(words[i], "=")
		need := func() string {
			if hasV {
				return v
			}
			if i+1 < len(words) {
				i++
				return words[i]
			}
			return ""
		}
		switch k {
		case "--add-rich-rule", "--remove-rich-rule":
			g.Insert, rule, what = k == "--add-rich-rule", need(), k
		case "--add-service", "--remove-service", "--add-port", "--remove-port":
			g.Insert, value, what = strings.HasPrefix(k, "--add"), need(), k
		case "--zone", "--permanent", "-q", "--quiet":
			if k == "--zone" {
				need()
			}
		case "--timeout":
			t := need()
			secs, err := firewalldSeconds(t)
			if err != nil {
				return nil, err
			}
			g.OpenFor = secs
		case "--reload", "--runtime-to-permanent":
			return nil, nil
		default:
			return nil, fmt.Errorf("uses %s, which knockc has no equivalent for", k)
		}
	}
	switch what {
	case "":
		return nil, errors.New("adds no rule")
	case "--add-service", "--remove-service", "--add-port", "--remove-port":
		g.Everyone = true
		name, proto, _ := strings.Cut(value, "/")
		ps, err := parsePorts([]string{name}, proto, resolve)
		if err != nil {
			return nil, err
		}
		g.Ports = ps
		return g, nil
	}
	fields, err := richRule(rule)
	if err != nil {
		return nil, err
	}
	switch fields["family"] {
	case "ipv4":
		g.Families = []ruleset.Family{ruleset.IPv4}
	case "ipv6":
		g.Families = []ruleset.Family{ruleset.IPv6}
	}
	switch {
	case fields["verdict"] != "accept":
		return nil, fmt.Errorf("rich rule ends in %q, not accept: knockc's grant can only let the knocker through", fields["verdict"])
	case fields["source address"] == "":
		g.Everyone = true
	case !isKnocker(fields["source address"]):
		return nil, fmt.Errorf("rich rule matches source %q, not the knocker's address", fields["source address"])
	}
	switch {
	case fields["port port"] != "":
		proto := fields["port protocol"]
		if proto != "tcp" && proto != "udp" {
			return nil, fmt.Errorf("rich rule port has protocol %q: knockc protects tcp and udp ports", proto)
		}
		g.Ports, err = parsePorts([]string{fields["port port"]}, proto, resolve)
	case fields["service name"] != "":
		g.Ports, err = parsePorts([]string{fields["service name"]}, "", resolve)
	default:
		return nil, errors.New("rich rule names no port or service, so it opens every port to the knocker")
	}
	if err != nil {
		return nil, err
	}
	return g, nil
}

// firewallDirect reads firewall-cmd [--permanent] --direct --add-rule|
// --remove-rule ipv4|ipv6 TABLE CHAIN PRIORITY ARGS…, whose ARGS are an
// iptables rule: it is read as "iptables -t TABLE -A|-D CHAIN ARGS…".
func firewallDirect(words []string, resolve Services) (*grant, error) {
	var rest []string
	op := ""
	for i, w := range words[1:] {
		if w == "--add-rule" || w == "--remove-rule" {
			op, rest = w, words[i+2:]
			break
		}
	}
	if op == "" || len(rest) < 4 {
		return nil, errors.New("changes no direct rule")
	}
	prog := map[string]string{"ipv4": "iptables", "ipv6": "ip6tables"}[rest[0]]
	if prog == "" {
		return nil, fmt.Errorf("adds a direct rule for %q: knockc gates ipv4 and ipv6", rest[0])
	}
	flag := "-A"
	if op == "--remove-rule" {
		flag = "-D"
	}
	ipt := append([]string{prog, "-t", rest[1], flag, rest[2]}, rest[4:]...)
	return parseIPTables(ipt, resolve)
}

// richRule reads the words of a firewalld rich rule into "element
// attribute" → value ("source address" → "%IP%"), plus "family" and
// "verdict".
func richRule(rule string) (map[string]string, error) {
	words, err := splitList(rule)
	if err != nil || len(words) != 1 || words[0].Problem != "" {
		return nil, fmt.Errorf("rich rule %q is not a rule firewall-cmd would read", rule)
	}
	f := map[string]string{}
	elem := ""
	for _, w := range words[0].Words {
		k, v, ok := strings.Cut(w, "=")
		switch {
		case w == "rule":
		case ok && k == "family" && elem == "":
			f["family"] = v
		case ok:
			f[elem+" "+k] = v
		case w == "accept" || w == "reject" || w == "drop" || w == "mark":
			f["verdict"] = w
		case w == "not":
			return nil, fmt.Errorf("rich rule %q inverts a match (not): knockc has no equivalent", rule)
		default:
			elem = w
		}
	}
	return f, nil
}

// firewalldSeconds reads firewall-cmd's --timeout: N, Ns, Nm or Nh.
func firewalldSeconds(t string) (int, error) {
	mult := 1
	switch {
	case strings.HasSuffix(t, "s"):
		t = strings.TrimSuffix(t, "s")
	case strings.HasSuffix(t, "m"):
		t, mult = strings.TrimSuffix(t, "m"), 60
	case strings.HasSuffix(t, "h"):
		t, mult = strings.TrimSuffix(t, "h"), 3600
	}
	n, err := strconv.Atoi(t)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("--timeout %q is not a time firewall-cmd reads", t)
	}
	return n * mult, nil
}
