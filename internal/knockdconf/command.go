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
			default:
				return nil, fmt.Errorf("uses match %q, which knockc has no equivalent for", v)
			}
		case "--state", "--ctstate", "--comment":
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

// parseUFW reads ufw allow|insert N allow|prepend allow|delete allow
// [in] [on IFACE] [proto P] from %IP% [to any|ADDR] [port P] [proto P],
// and the short "ufw allow P[/proto]" that opens P to everyone.
func parseUFW(words []string, resolve Services) (*grant, error) {
	if path.Base(words[0]) != "ufw" {
		return nil, errNotMine
	}
	args := words[1:]
	for len(args) > 0 && strings.HasPrefix(args[0], "--") {
		args = args[1:] // --dry-run is not worth a door, but --force is common
	}
	g := &grant{Insert: true}
	if len(args) > 0 && args[0] == "delete" {
		g.Insert, args = false, args[1:]
	}
	if len(args) > 1 && args[0] == "insert" {
		if _, err := strconv.Atoi(args[1]); err == nil {
			args = args[2:]
		}
	}
	if len(args) > 0 && args[0] == "prepend" {
		args = args[1:]
	}
	if len(args) == 0 {
		return nil, errors.New("changes no rule")
	}
	switch args[0] {
	case "reload", "status", "enable":
		return nil, nil // changes no rule for the knocker
	case "allow", "limit":
		if args[0] == "limit" {
			g.Notes = append(g.Notes, "ufw limit also refuses a source after 6 connections in 30 s; knockc does not")
		}
	case "deny", "reject":
		return nil, fmt.Errorf("%ss the knocker: it shuts a port rather than opening it, and knockc has no ban list", args[0])
	default:
		return nil, fmt.Errorf("runs ufw %s, which opens no port for the knocker", args[0])
	}
	args = args[1:]
	var from, proto string
	var ports []string
	app := ""
	if len(args) == 1 && !strings.Contains(args[0], "%IP%") {
		// ufw allow 22/tcp, ufw allow ssh
		spec, pr, _ := strings.Cut(args[0], "/")
		ports, proto, from = []string{spec}, pr, "any"
		args = nil
	}
	for i := 0; i < len(args); i++ {
		val := func() string {
			if i+1 < len(args) {
				i++
				return args[i]
			}
			return ""
		}
		switch a := args[i]; a {
		case "in":
		case "out", "route":
			return nil, fmt.Errorf("changes %s traffic: knockc gates only what arrives for this host", a)
		case "on":
			g.Iface = val()
		case "proto":
			proto = val()
		case "from":
			from = val()
		case "to":
			if to := val(); to != "any" {
				g.Notes = append(g.Notes, fmt.Sprintf("allows only to address %s; knockc's grant covers every address of this host", to))
			}
		case "port":
			ports = append(ports, val())
		case "app":
			app = val()
		case "comment":
			val()
		default:
			return nil, fmt.Errorf("uses %q, which knockc has no equivalent for", a)
		}
	}
	switch {
	case from == "any" || from == "":
		g.Everyone = true
	case !isKnocker(from):
		return nil, fmt.Errorf("allows source %q, not the knocker's address (from %%IP%%)", from)
	}
	if app != "" {
		if strings.EqualFold(app, "OpenSSH") {
			ports, proto = []string{"22"}, "tcp"
		} else {
			return nil, fmt.Errorf("allows the ufw application profile %q: write its ports in protect", app)
		}
	}
	if len(ports) == 0 {
		return nil, errors.New("names no port, so it opens every port to the knocker")
	}
	protos := []string{proto}
	if proto == "" || proto == "any" {
		// ufw without proto allows tcp and udp; a name in /etc/services
		// brings its own protocols.
		protos = []string{"tcp", "udp"}
		if _, err := strconv.Atoi(strings.Split(ports[0], ",")[0]); err != nil {
			protos = []string{""}
		}
	} else if proto != "tcp" && proto != "udp" {
		return nil, fmt.Errorf("matches protocol %q: knockc protects tcp and udp ports", proto)
	}
	for _, pr := range protos {
		ps, err := parsePorts(ports, pr, resolve)
		if err != nil {
			return nil, err
		}
		g.Ports = append(g.Ports, ps...)
	}
	return g, nil
}

// parseFirewallCmd reads firewall-cmd --add-rich-rule / --remove-rich-rule
// with a rule 'rule [family="ipv4"] source address="%IP%" port port="P"
// protocol="tcp" accept' (or service name="ssh"), and --add-service /
// --add-port, which open to everyone. --timeout becomes open_for.
func parseFirewallCmd(words []string, resolve Services) (*grant, error) {
	if path.Base(words[0]) != "firewall-cmd" {
		return nil, errNotMine
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
