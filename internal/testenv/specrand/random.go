package specrand

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
)

// Random returns a spec drawn from r: one to five doors with random keys.
// Most are valid; about one in ten reuses a port (protected twice, a knock
// port that another door protects, sequences that complete each other), so
// that check's rejections are exercised too. The same r state gives the
// same spec.
func Random(r *rand.Rand) Case { return RandomWith(r, Options{}) }

// Options shape what RandomWith writes.
type Options struct {
	// Quick keeps every timeout short, so that a test can wait past them:
	// step and sequence timeouts of 100 to 400 ms, open_for and
	// start_timeout of 1 or 2 s (a few of 30 s). It also keeps grant and
	// pending sets at 64 elements or more, far from full in a test.
	Quick bool
	// AllowFrom are prefixes written into about half the allow_from lists,
	// so that a test's own sources may knock.
	AllowFrom []netip.Prefix
	// Interfaces are names written into about half the table.interfaces
	// lists, so that knocks on a test's own links count.
	Interfaces []string
}

// RandomWith is Random shaped by o.
func RandomWith(r *rand.Rand, o Options) Case {
	g := &gen{r: r, o: o, used: map[int]bool{}}
	s := &spec{}
	if r.IntN(2) == 0 {
		s.table = g.table()
	}
	n := 1 + r.IntN(3)
	if r.IntN(8) == 0 {
		n = 4 + r.IntN(2)
	}
	names := map[string]bool{}
	for len(s.doors) < n {
		name := g.doorName()
		norm := strings.ReplaceAll(strings.ToLower(name), "-", "_")
		if names[norm] {
			continue
		}
		names[norm] = true
		s.doors = append(s.doors, g.door(name))
	}
	// Key names that read like another door's set names (door "x" key
	// "grant_v4" beside door "x_tok"): check must refuse the clash, never
	// leave it to the kernel.
	for i := range s.doors {
		d := &s.doors[i]
		twin := strings.ReplaceAll(strings.ToLower(d.name), "-", "_") + "_tok"
		if !d.has("token.port") || names[twin] || len(twin) > 24 || !g.chance(3) {
			continue
		}
		d.set("token.keys."+oneOf(r, "grant_v4", "grant_v6", "open_s1_v4", "tok_k0"), str("/etc/knockc/twin.key"))
		names[twin] = true
		s.doors = append(s.doors, g.door(twin))
		break
	}
	return Case{Name: fmt.Sprintf("random, %d doors", len(s.doors)), TOML: s.String()}
}

// gen draws the parts of one spec.
type gen struct {
	r    *rand.Rand
	o    Options
	used map[int]bool
	all  []int
}

// oneOf returns one of the values, uniformly.
func oneOf[T any](r *rand.Rand, vs ...T) T { return vs[r.IntN(len(vs))] }

// chance is true with probability 1/n.
func (g *gen) chance(n int) bool { return g.r.IntN(n) == 0 }

// port returns a port no other part of the spec uses, or rarely one it
// does (to exercise check's cross-key rules).
func (g *gen) port() int {
	if len(g.all) > 0 && g.chance(40) {
		return oneOf(g.r, g.all...)
	}
	for {
		p := 1024 + g.r.IntN(64000)
		if !g.used[p] {
			g.used[p] = true
			g.all = append(g.all, p)
			return p
		}
	}
}

// step writes a step in one of the syntaxes the spec takes.
func (g *gen) step(port int, udp bool) string {
	proto := "tcp"
	if udp {
		proto = oneOf(g.r, "udp", "UDP")
	}
	switch g.r.IntN(6) {
	case 0:
		if !udp {
			return fmt.Sprint(port)
		}
	case 1:
		return fmt.Sprintf("%d:%s", port, proto)
	}
	return fmt.Sprintf("%d/%s", port, proto)
}

func (g *gen) table() []string {
	var out []string
	if g.chance(2) {
		out = append(out, "name = "+str(oneOf(g.r, "knockc", "kc", "Knock_2", "t"+fmt.Sprint(g.r.IntN(1000)))))
	}
	if g.chance(2) {
		out = append(out, "priority = "+oneOf(g.r, fmt.Sprint(-199+g.r.IntN(1200)), str("mangle"), str("filter + 5"), str("security"), str("raw + 150")))
	}
	if g.chance(2) {
		out = append(out, "log_group = "+fmt.Sprint(g.r.IntN(65536)))
	}
	if g.chance(3) {
		out = append(out, "hold_queue = "+fmt.Sprint(g.r.IntN(65536)))
	}
	if g.chance(2) {
		out = append(out, "closed = "+str(oneOf(g.r, "reject", "drop")))
	}
	if g.chance(4) {
		out = append(out, "answer_port = "+fmt.Sprint(oneOf(g.r, 0, 1, 9, 65535)))
	}
	if g.chance(4) {
		out = append(out, "grant_mark = "+oneOf(g.r, "1", "0x10", "0xffffffff", fmt.Sprint(g.r.Uint32())))
	}
	if g.chance(3) {
		n := 1 + g.r.IntN(3)
		pool := []string{"eth0", "eth1", "veth*", "wg0", "ens3", "br-lan.10", "e*", "bond0:1", "abcdefghijklmno", "ppp*", "lo"}
		g.r.Shuffle(len(pool), func(i, j int) { pool[i], pool[j] = pool[j], pool[i] })
		names := pool[:n]
		if len(g.o.Interfaces) > 0 && g.chance(2) {
			names[0] = oneOf(g.r, g.o.Interfaces...)
		}
		out = append(out, "interfaces = "+list(names...))
	}
	return out
}

func (g *gen) doorName() string {
	if g.chance(4) {
		return oneOf(g.r, "ssh", "SSH-Alt", "web", "my-door", "abcdefghijklmnopqrstuvwx", "a")
	}
	const letters = "abcdefghijklmnopqrstuvwxyz"
	b := []byte{letters[g.r.IntN(26)]}
	for range g.r.IntN(12) {
		b = append(b, oneOf(g.r, letters[g.r.IntN(26)], "0123456789"[g.r.IntN(10)], '_', '-', 'X'))
	}
	return string(b)
}

// seqLen returns a sequence length: mostly 2 to 4, sometimes 1 or up to 16.
func (g *gen) seqLen() int {
	switch g.r.IntN(10) {
	case 0:
		return 1
	case 1, 2:
		return 5 + g.r.IntN(12)
	}
	return 2 + g.r.IntN(3)
}

// sequence returns n fresh knock steps, each udp with probability 1/udp
// (never when udp is 0).
func (g *gen) sequence(n, udp int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = g.step(g.port(), udp > 0 && g.chance(udp))
	}
	return out
}

func (g *gen) door(name string) door {
	r := g.r
	d := door{name: name}
	udp := oneOf(r, 0, 0, 2, 4, 1) // 1: all udp
	seq := g.sequence(g.seqLen(), udp)
	d.set("sequence", list(seq...))

	if g.chance(3) {
		var cl []string
		if len(seq) > 1 && g.chance(2) {
			for i := len(seq) - 1; i >= 0; i-- {
				cl = append(cl, seq[i])
			}
		} else {
			cl = g.sequence(g.seqLen(), udp)
		}
		d.set("close_sequence", list(cl...))
	}

	var protect []string
	for range 1 + r.IntN(3) {
		protect = append(protect, g.step(g.port(), g.chance(4)))
	}
	d.set("protect", list(protect...))

	// Timeouts, and a flood_rate that keeps every set small: the step and
	// window sets hold flood_rate × their timeout elements.
	stepMS := oneOf(r, 100, 160, 240, 500, 1000, 5000, 60000, 3600000)
	if g.o.Quick {
		stepMS = oneOf(r, 100, 160, 200, 300, 400)
	}
	if g.o.Quick || g.chance(3) {
		d.set("step_timeout", str(fmtMS(stepMS)))
	} else {
		stepMS = 5000
	}
	longest := stepMS
	if g.chance(3) {
		seqMS := oneOf(r, 100, 140, 300, 2000, 10000, 60000, 86400000)
		if g.o.Quick {
			seqMS = oneOf(r, 100, 140, 200, 300, 400, 600)
		}
		d.set("seq_timeout", str(fmtMS(seqMS)))
		longest = max(longest, seqMS)
	}
	rate := max(1, min(oneOf(r, 1, 10, 100, 1000, 25000), 8000*1000/longest))
	d.set("flood_rate", fmt.Sprint(rate))

	if g.chance(2) {
		d.set("tcp_flags", str(g.tcpFlags()))
	}
	if g.chance(2) {
		d.set("strict", oneOf(r, "true", "false"))
	}
	if g.o.Quick {
		d.set("open_for", str(oneOf(r, "1s", "2s", "30s")))
	} else if g.chance(2) {
		d.set("open_for", str(oneOf(r, "1s", "2s", "30s", "5m", "90m", "168h")))
	}
	if g.chance(3) {
		grants := []int{1, 16, 1024, 5000}
		if g.o.Quick {
			grants = []int{64, 1024}
		}
		d.set("max_grants", fmt.Sprint(oneOf(r, grants...)))
	}

	if g.chance(3) {
		if g.chance(2) {
			d.set("service", str(oneOf(r, "ssh", "ssh.service", "getty@tty1.service", "web-app")))
		} else {
			d.set("start_command", list("/usr/bin/systemctl", "start", "x"))
			d.set("stop_command", list("/usr/bin/systemctl", "stop", "x"))
		}
		if g.chance(2) {
			d.set("pending", str(oneOf(r, "hold", "drop")))
		}
		if g.o.Quick {
			d.set("start_timeout", str(oneOf(r, "1s", "2s", "30s")))
		} else if g.chance(3) {
			d.set("start_timeout", str(oneOf(r, "1s", "10s", "10m")))
		}
		if g.chance(3) {
			d.set("stop_when_idle", oneOf(r, "true", "false"))
		}
	}
	if g.chance(6) {
		d.set("on_open", list("/usr/bin/logger", "open"))
	}
	if g.chance(6) {
		d.set("on_close", list("/usr/bin/logger", "close"))
	}

	v4, v6 := true, true
	if g.chance(3) {
		switch r.IntN(3) {
		case 0:
			v6 = false
			d.set("families", list(oneOf(r, "ipv4", "ip", "inet4")))
		case 1:
			v4 = false
			d.set("families", list(oneOf(r, "ipv6", "ip6", "inet6")))
		default:
			d.set("families", list(oneOf(r, "ipv4", "ip"), oneOf(r, "ipv6", "inet6")))
		}
	}
	if g.chance(4) {
		var ps []string
		for range 1 + r.IntN(3) {
			if v4 && (!v6 || g.chance(2)) {
				ps = append(ps, g.prefix(true))
			} else {
				ps = append(ps, g.prefix(false))
			}
		}
		if g.chance(2) {
			for _, p := range g.o.AllowFrom {
				if p.Addr().Is4() && v4 || p.Addr().Is6() && v6 {
					ps = append(ps, p.String())
				}
			}
		}
		d.set("allow_from", list(ps...))
	}
	if g.chance(8) {
		var keys []string
		for i := range 1 + r.IntN(3) {
			keys = append(keys, oneOf(r, "alice", "bob", "laptop", "k")+fmt.Sprint(i))
		}

		tokenDoor(&d, g.port(), oneOf(r, tokenTimings...), keys...)
	}
	return d
}

// tcpFlags writes a random tcp_flags value with at least one flag set.
func (g *gen) tcpFlags() string {
	names := []string{"fin", "syn", "rst", "psh", "ack", "urg", "ecn", "cwr"}
	g.r.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	n := 1 + g.r.IntN(8)
	var parts []string
	for i, name := range names[:n] {
		if g.chance(6) {
			name = strings.ToUpper(name)
		}
		if i > 0 && g.chance(2) {
			name = "!" + name
		}
		parts = append(parts, name)
	}
	g.r.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
	return strings.Join(parts, oneOf(g.r, ",", ", "))
}

// prefix returns a random prefix (host bits clear) or bare address of the
// family.
func (g *gen) prefix(v4 bool) string {
	if v4 {
		a := netip.AddrFrom4([4]byte{byte(1 + g.r.IntN(223)), byte(g.r.IntN(256)), byte(g.r.IntN(256)), byte(g.r.IntN(256))})
		bits := oneOf(g.r, 0, 8, 16, 24, 29, 32)
		p := netip.PrefixFrom(a, bits).Masked()
		if bits == 32 && g.chance(2) {
			return p.Addr().String()
		}
		return p.String()
	}
	var b [16]byte
	b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
	for i := 4; i < 16; i++ {
		b[i] = byte(g.r.IntN(256))
	}
	bits := oneOf(g.r, 0, 32, 48, 64, 127, 128)
	p := netip.PrefixFrom(netip.AddrFrom16(b), bits).Masked()
	if bits == 128 && g.chance(2) {
		return p.Addr().String()
	}
	return p.String()
}

// fmtMS writes a duration of ms milliseconds as the spec takes it.
func fmtMS(ms int) string {
	switch {
	case ms%3600000 == 0:
		return fmt.Sprintf("%dh", ms/3600000)
	case ms%60000 == 0:
		return fmt.Sprintf("%dm", ms/60000)
	case ms%1000 == 0:
		return fmt.Sprintf("%ds", ms/1000)
	}
	return fmt.Sprintf("%dms", ms)
}
