// Package specrand writes knock specs that walk the spec space: every
// documented value of every key (Walk) and random combinations of doors,
// sequences, protocols, families, flags, timeouts, allow_from, interfaces,
// managed and unmanaged doors and pending modes (Random). The generative
// tests feed them to the compiler and, for each spec check accepts, to the
// kernel (docs/testing.md).
//
// Every spec keeps its kernel memory small (step-set sizes of a few
// thousand elements): a random spec with default flood_rate and sixteen
// steps would ask the kernel for hundreds of MiB of hash buckets.
package specrand

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/knockc/knockc/internal/testenv/specgen"
)

// Case is one generated spec: a name that says what it varies and the
// knock.toml text.
type Case struct {
	Name string
	TOML string
}

// spec is a spec being written: the [table] lines and the doors, each a
// name and its "key = value" lines, in order.
type spec struct {
	table []string
	doors []door
}

type door struct {
	name  string
	lines []string
}

func (s *spec) String() string {
	var b strings.Builder
	if len(s.table) > 0 {
		b.WriteString("[table]\n")
		for _, l := range s.table {
			b.WriteString(l + "\n")
		}
	}
	for _, d := range s.doors {
		fmt.Fprintf(&b, "\n[door.%s]\n", tomlKey(d.name))
		for _, l := range d.lines {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// has reports whether d sets key.
func (d *door) has(key string) bool {
	for _, l := range d.lines {
		if k, _, _ := strings.Cut(l, " = "); k == key {
			return true
		}
	}
	return false
}

// set replaces the line of key in d, or adds it.
func (d *door) set(key, value string) {
	for i, l := range d.lines {
		if k, _, _ := strings.Cut(l, " = "); k == key {
			d.lines[i] = key + " = " + value
			return
		}
	}
	d.lines = append(d.lines, key+" = "+value)
}

// tomlKey quotes a door name unless TOML takes it bare.
func tomlKey(s string) string {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return strconv.Quote(s)
		}
	}
	return s
}

// str is a TOML basic string.
func str(s string) string { return strconv.Quote(s) }

// list is a TOML array of strings.
func list(items ...string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = str(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// base is the door every Walk case starts from: unmanaged, three TCP
// knocks, one protected port, small sets.
func base() *spec {
	return &spec{doors: []door{{name: "ssh", lines: []string{
		`sequence = ["7000/tcp", "8000/tcp", "9000/tcp"]`,
		`protect = ["22/tcp"]`,
		`flood_rate = 100`,
	}}}}
}

// tableValues are documented values of every [table] key (README, spec
// reference), ends of ranges included.
var tableValues = map[string][]string{
	"name":        {str("knockc"), str("k"), str("K9_x"), str("a23456789012345678901234567890bc")},
	"priority":    {"-199", "-150", "0", "1000", str("mangle"), str("filter"), str("security"), str("mangle + 10"), str("filter - 10"), str("raw + 101"), str("security+950")},
	"log_group":   {"0", "1", "4242", "65535"},
	"hold_queue":  {"0", "7", "65535"},
	"closed":      {str("reject"), str("drop")},
	"answer_port": {"0", "1", "9", "65535"},
	"grant_mark":  {"0", "1", "0x10", "0xffffffff"},
	"interfaces":  {list("eth0"), list("eth0", "wg0"), list("veth*"), list("e*"), list("abcdefghijklmno"), list("br-lan.10", "ppp:0", "v@x", "A_b-c"), list("abcdefghijklmn*"), list("lo"), list("lo", "eth0")},
}

// doorValues are documented values of every [door.NAME] key.
var doorValues = map[string][]string{
	"sequence": {
		list("7000"), list("7000/udp"), list("7000:tcp", "8000:udp"), list("7000/TCP", "8000/Udp"),
		list("1/tcp", "65535/tcp"), list("7000/tcp", "7000/udp"), list("7000/tcp", "7000/tcp", "8000/tcp"),
		list(seqPorts(16, 40000)...),
	},
	"close_sequence": {list("9000/tcp", "8000/tcp", "7000/tcp"), list("9100/udp"), list("9000/tcp", "7000/tcp"), list(seqPorts(16, 41000)...)},
	"step_timeout":   {str("100ms"), str("240ms"), str("5s"), str("1m30s"), str("1h")},
	"seq_timeout":    {str("100ms"), str("140ms"), str("9s"), str("10s"), str("24h")},
	"tcp_flags": {
		str("fin"), str("syn"), str("rst"), str("psh"), str("ack"), str("urg"), str("ecn"), str("cwr"),
		str("syn,!ack"), str("SYN, !ACK"), str("syn,ack"), str("fin,syn,rst,psh,ack,urg,ecn,cwr"),
		str("syn,!fin,!rst,!psh,!ack,!urg,!ecn,!cwr"), str("!cwr,ecn"),
	},
	"strict":        {"true", "false"},
	"protect":       {list("22"), list("53/udp"), list("22/tcp", "22/udp", "443/tcp"), list("65535:udp")},
	"open_for":      {str("1s"), str("30s"), str("90m"), str("168h")},
	"service":       {str("ssh"), str("ssh.service"), str("getty@tty1.service"), str("a-b_c:d.service")},
	"start_command": {list("/bin/true")},
	"on_open":       {list("/usr/bin/logger", "opened")},
	"on_close":      {list("/usr/bin/logger", "closed")},
	"families":      {list("ipv4"), list("ipv6"), list("ipv4", "ipv6"), list("ip"), list("inet6"), list("IP6", "inet4")},
	"allow_from":    {list("203.0.113.0/24"), list("2001:db8::/32"), list("203.0.113.7", "2001:db8::7"), list("0.0.0.0/0", "::/0"), list("10.0.0.0/8", "10.1.0.0/16")},
	"flood_rate":    {"1", "100", "4096", "1000000"},
	"max_grants":    {"1", "1024", "65536", "1000000"},
}

// managedValues are keys that mean something on a managed door.
var managedValues = map[string][]string{
	"start_timeout":  {str("1s"), str("30s"), str("10m")},
	"pending":        {str("hold"), str("drop")},
	"stop_when_idle": {"true", "false"},
}

// tokenTimings are valid [door.NAME.token] timings (slot, per_slot,
// lifetime, skew, ahead), as dotted keys of the door; "" leaves a key to
// its default. check relates them: lifetime ≥ skew, ahead ≥ skew + 2·lead
// + 2·slot, at most 2^15 tokens a key.
var tokenTimings = [][5]string{
	{"", "", "", "", ""},
	{"1s", "1", "1s", "1s", "3m"},
	{"30s", "8", "5m", "5m", "1h"},
	{"5m", "16", "10m", "10m", "1h"},
	{"1h", "2", "24h", "1h", "168h"},
}

// tokenDoor makes d a token door on port with the given timing and keys.
func tokenDoor(d *door, port int, timing [5]string, keys ...string) {
	var kept []string
	for _, l := range d.lines {
		if k, _, _ := strings.Cut(l, " = "); k != "sequence" && k != "close_sequence" {
			kept = append(kept, l)
		}
	}
	d.lines = kept
	d.set("token.port", fmt.Sprint(port))
	for i, key := range []string{"slot", "per_slot", "lifetime", "skew", "ahead"} {
		switch v := timing[i]; {
		case v == "":
		case key == "per_slot":
			d.set("token."+key, v)
		default:
			d.set("token."+key, str(v))
		}
	}
	for _, k := range keys {
		d.set("token.keys."+k, str("/etc/knockc/"+k+".key"))
	}
}

// doorNames are door names as the README allows them: compared in lower
// case, "-" read as "_", 24 characters at most.
var doorNames = []string{"ssh", "SSH", "my-door", "a", "x9_y", "abcdefghijklmnopqrstuvwx", "Web-Admin_2"}

// seqPorts returns n TCP steps from port first on.
func seqPorts(n, first int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%d/tcp", first+i)
	}
	return out
}

// Walk returns one spec per documented value of every key, each on the
// base door (managed keys on a managed one), and one per allowed door
// name. The README documents each value as valid: check must accept
// every case.
func Walk() []Case {
	var out []Case
	add := func(name string, s *spec) { out = append(out, Case{name, s.String()}) }
	for _, key := range sortedKeys(tableValues) {
		for _, v := range tableValues[key] {
			s := base()
			s.table = []string{key + " = " + v}
			add("table."+key+"="+v, s)
		}
	}
	for _, key := range sortedKeys(doorValues) {
		for _, v := range doorValues[key] {
			s := base()
			d := &s.doors[0]
			d.set(key, v)
			switch key {
			case "start_command":
				d.set("stop_command", list("/bin/true"))
			case "allow_from":
				// families follow allow_from unless written
			case "flood_rate":
				// 1000000 knocks/s over 100ms: step sets of 100000.
				d.set("step_timeout", str("100ms"))
			case "max_grants":
				// a grant set of 1000000 takes 16 MiB of buckets: one family
				d.set("families", list("ipv4"))
			}
			add("door."+key+"="+v, s)
		}
	}
	for _, key := range sortedKeys(managedValues) {
		for _, v := range managedValues[key] {
			s := base()
			s.doors[0].set("service", str("ssh.service"))
			s.doors[0].set(key, v)
			add("door(managed)."+key+"="+v, s)
		}
	}
	for i, tm := range tokenTimings {
		s := base()
		tokenDoor(&s.doors[0], 62201, tm, "alice")
		add(fmt.Sprintf("token door, timing %d", i), s)
	}
	for _, keys := range [][]string{{"a"}, {"alice", "laptop_2"}, {"abcdefghijklmnopqrstuvwx", "k0", "z"}} {
		s := base()
		tokenDoor(&s.doors[0], 1, tokenTimings[0], keys...)
		add("token door, keys "+strings.Join(keys, ","), s)
	}
	// Long lists: one rule per item, or items gathered into one rule,
	// both must stay within what the kernel takes.
	var ports, prefixes, ifaces, keys []string
	for i := range 40 {
		ports = append(ports, fmt.Sprintf("%d/%s", 30000+i, []string{"tcp", "udp"}[i%2]))
		prefixes = append(prefixes, fmt.Sprintf("10.%d.0.0/16", i), fmt.Sprintf("2001:db8:%x::/48", i))
		ifaces = append(ifaces, fmt.Sprintf("eth%d", i))
		keys = append(keys, fmt.Sprintf("k%d", i))
	}
	for _, c := range []struct{ name, key, value string }{
		{"40 protected ports", "protect", list(ports...)},
		{"80 allow_from prefixes", "allow_from", list(prefixes...)},
	} {
		s := base()
		s.doors[0].set(c.key, c.value)
		add("door with "+c.name, s)
	}
	s := base()
	s.table = []string{"interfaces = " + list(ifaces...)}
	add("table with 40 interfaces", s)
	s = base()
	tokenDoor(&s.doors[0], 62201, tokenTimings[1], keys...)
	add("token door with 40 keys", s)
	for _, n := range []int{20, 60} {
		// Many doors: per-door statements that one rule gathers must
		// stay within the kernel's limits on a rule.
		out = append(out, Case{fmt.Sprintf("%d doors", n), string(specgen.Doors(n, specgen.SmallSets))})
	}
	for _, n := range doorNames {
		s := base()
		s.doors[0].name = n
		add("door name "+n, s)
	}
	return out
}

func sortedKeys(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}
