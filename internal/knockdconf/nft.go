package knockdconf

import (
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/knockc/knockc/ruleset"
)

// parseNft reads nft add|insert rule [FAMILY] TABLE CHAIN … saddr %IP% …
// dport P … accept, and nft add|delete element [FAMILY] TABLE SET { %IP%
// [timeout T] } where the set's name gives its port ("ssh_allow",
// "allow_2222").
func parseNft(words []string, resolve Services) (*grant, error) {
	if path.Base(words[0]) != "nft" {
		return nil, errNotMine
	}
	args := words[1:]
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		args = args[1:]
	}
	if len(args) < 2 {
		return nil, errors.New("changes no rule or set")
	}
	g := &grant{}
	verb, obj := args[0], args[1]
	switch verb {
	case "add", "insert", "create":
		g.Insert = true
	case "delete", "destroy":
	default:
		return nil, fmt.Errorf("runs nft %s, which opens no port for the knocker", verb)
	}
	rest := args[2:]
	fam := "ip"
	if len(rest) > 0 {
		switch rest[0] {
		case "ip", "ip6", "inet":
			fam, rest = rest[0], rest[1:]
		case "arp", "bridge", "netdev":
			return nil, fmt.Errorf("works on the %s family: knockc gates what arrives for this host over IP", rest[0])
		}
	}
	switch fam {
	case "ip":
		g.Families = []ruleset.Family{ruleset.IPv4}
	case "ip6":
		g.Families = []ruleset.Family{ruleset.IPv6}
	}
	if len(rest) < 2 {
		return nil, fmt.Errorf("nft %s %s names no table and chain or set", verb, obj)
	}
	name, expr := rest[1], rest[2:]
	switch obj {
	case "element":
		return nftElement(g, name, expr, resolve)
	case "rule":
	default:
		return nil, fmt.Errorf("changes an nft %s, not a rule or a set element", obj)
	}
	if !g.Insert {
		if len(expr) > 0 && expr[0] == "handle" {
			return nil, errors.New("deletes a rule by its handle, which does not say what the rule was")
		}
		// nft itself wants a handle here, but the rule written out says
		// which grant it meant to take back.
		g.Notes = append(g.Notes, "nft deletes a rule only by its handle; read as the undo of the rule it writes out")
	}
	switch strings.ToLower(name) {
	case "forward", "output", "prerouting", "postrouting":
		return nil, fmt.Errorf("changes chain %q: knockc gates only what arrives for this host (input)", name)
	}
	var src, proto string
	var dports []string
	verdict := ""
	for i := 0; i < len(expr); i++ {
		w := expr[i]
		val := func() string {
			if i+1 < len(expr) {
				i++
				return expr[i]
			}
			return ""
		}
		switch w {
		case "ip", "ip6":
			if i+1 < len(expr) && expr[i+1] == "saddr" {
				i++
				src = val()
				if w == "ip" {
					g.Families = []ruleset.Family{ruleset.IPv4}
				} else {
					g.Families = []ruleset.Family{ruleset.IPv6}
				}
			}
		case "tcp", "udp", "th":
			if i+1 < len(expr) && expr[i+1] == "dport" {
				i++
				proto = w
				v := val()
				if v == "{" {
					for i+1 < len(expr) && expr[i+1] != "}" {
						dports = append(dports, strings.TrimSuffix(val(), ","))
					}
					val()
				} else {
					dports = append(dports, strings.Trim(v, "{}"))
				}
			} else if w != "th" {
				proto = w
			}
		case "meta":
			if i+1 < len(expr) && expr[i+1] == "l4proto" {
				i++
				proto = val()
			}
		case "iifname", "iif":
			g.Iface = strings.Trim(val(), `"`)
		case "ct":
			if i+1 < len(expr) && expr[i+1] == "state" {
				i++
				val()
			}
		case "counter", "position", "index", "handle", "comment":
			if w != "counter" {
				val()
			}
		case "accept", "drop", "reject", "return", "jump", "goto":
			verdict = w
		default:
			if strings.Contains(w, "%IP%") || strings.HasPrefix(w, "{") || strings.HasPrefix(w, "}") {
				break
			}
			if _, err := strconv.Atoi(w); err == nil {
				break // a position argument
			}
			if i == 0 {
				break // the chain name after the table
			}
			return nil, fmt.Errorf("uses %q, which knockc has no equivalent for", w)
		}
	}
	switch {
	case verdict != "accept":
		return nil, fmt.Errorf("ends in %q, not accept: knockc's grant can only let the knocker through", verdict)
	case src == "":
		g.Everyone = true
	case !isKnocker(src):
		return nil, fmt.Errorf("matches source %q, not the knocker's address", src)
	}
	if proto == "th" {
		proto = "tcp"
		g.Notes = append(g.Notes, "th dport matches tcp and udp; knockc protects the tcp port")
	}
	if len(dports) == 0 {
		return nil, errors.New("names no dport, so it opens every port to the knocker")
	}
	if proto != "tcp" && proto != "udp" {
		return nil, fmt.Errorf("matches protocol %q: knockc protects tcp and udp ports", proto)
	}
	var err error
	g.Ports, err = parsePorts(dports, proto, resolve)
	return g, err
}

// nftElement reads "{ %IP% [timeout T] }" added to or deleted from set,
// whose name must give the port it opens.
func nftElement(g *grant, set string, expr []string, resolve Services) (*grant, error) {
	text := strings.Join(expr, " ")
	inner := strings.TrimSpace(strings.Trim(strings.TrimSpace(text), "{}"))
	f := strings.Fields(strings.ReplaceAll(inner, ",", " "))
	if len(f) == 0 || !isKnocker(f[0]) {
		return nil, fmt.Errorf("adds %q to set %q, not the knocker's address", inner, set)
	}
	if len(f) >= 3 && f[1] == "timeout" {
		secs, err := firewalldSeconds(f[2])
		if err != nil {
			return nil, fmt.Errorf("element timeout %q is not one knockc reads", f[2])
		}
		g.OpenFor = secs
	}
	ports := setPorts(set, resolve)
	if len(ports) == 0 {
		return nil, fmt.Errorf("adds the knocker to set %q, and which ports that set opens is in rules this file does not show: write them in protect", set)
	}
	g.Ports = ports
	g.Notes = append(g.Notes, fmt.Sprintf("took the port of set %q from its name", set))
	return g, nil
}

// setPorts guesses a set's port from its name's parts: a service name
// ("ssh_allow") or a number ("allow_2222").
func setPorts(set string, resolve Services) []port {
	for _, part := range strings.FieldsFunc(strings.ToLower(set), func(r rune) bool { return r == '_' || r == '-' || r == '.' }) {
		if n, err := strconv.Atoi(part); err == nil && n >= 1 && n <= 65535 {
			return []port{{n, "tcp"}}
		}
		switch part {
		case "allow", "allowed", "accept", "knock", "knocked", "knockd", "white", "whitelist", "ok", "v4", "v6", "ipv4", "ipv6", "in", "input", "set", "clients", "list":
			continue
		}
		if ps := resolve(part, "tcp"); len(ps) > 0 {
			return ps
		}
	}
	return nil
}

// parseIPSet reads ipset add|del SET %IP% [timeout N] (and -A/-D), where
// the set's name gives the port its iptables rule opens ("ssh_knock",
// "allow_2222"), as for nft sets.
func parseIPSet(words []string, resolve Services) (*grant, error) {
	if path.Base(words[0]) != "ipset" {
		return nil, errNotMine
	}
	var args []string
	for _, a := range words[1:] {
		switch a {
		case "-exist", "-!", "-q", "-quiet":
			// "ipset add SET -exist IP" puts options anywhere
		default:
			args = append(args, a)
		}
	}
	if len(args) < 3 {
		return nil, errors.New("changes no set entry")
	}
	g := &grant{Families: []ruleset.Family{ruleset.IPv4}}
	switch args[0] {
	case "add", "-A":
		g.Insert = true
	case "del", "-D":
	default:
		return nil, fmt.Errorf("runs ipset %s, which opens no port for the knocker", args[0])
	}
	set := args[1]
	if !isKnocker(args[2]) {
		return nil, fmt.Errorf("adds %q to set %q, not the knocker's address", args[2], set)
	}
	if len(args) >= 5 && args[3] == "timeout" {
		secs, err := firewalldSeconds(args[4])
		if err != nil {
			return nil, fmt.Errorf("entry timeout %q is not one knockc reads", args[4])
		}
		g.OpenFor = secs
	}
	g.Ports = setPorts(set, resolve)
	if len(g.Ports) == 0 {
		return nil, fmt.Errorf("adds the knocker to ipset %q, and which ports that set opens is in iptables rules this file does not show: write them in protect", set)
	}
	g.Notes = append(g.Notes, fmt.Sprintf("took the port of ipset %q from its name", set))
	return g, nil
}
