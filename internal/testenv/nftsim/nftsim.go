// Package nftsim runs packets through a knockc table (a ruleset.Table) with
// a small model of how nftables evaluates it, so that tests can ask what
// the rules do rather than how they read. The differential test
// (docs/testing.md) checks it against the kernel, packet trace by packet
// trace; a statement it does not model is an error, never a guess.
//
// Time is explicit, as the kernel keeps it: an element added or updated at
// Now lives while Now is before Now+timeout, and is gone (for lookups, adds
// and counts alike) from that instant on.
package nftsim

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/knockc/knockc/ruleset"
)

// Packet is one packet arriving at the input hook. It is never part of a
// connection conntrack knows: those are accepted by knockc's first rule
// before any door sees them, so a trace feeds only first packets, which
// conntrack calls new or, for some TCP flags, invalid (CTState).
type Packet struct {
	Src   netip.Addr
	Proto ruleset.Proto
	DPort uint16
	SPort uint16
	Flags uint8 // TCP flags; 0x02 is SYN
	IIf   string
	// Payload is a UDP datagram's data: what a raw payload field past the
	// 8-byte UDP header (a token, @th,64,128) reads.
	Payload []byte
}

// CTState returns the conntrack state of p as the first packet of its
// flow, as nf_conntrack_proto_tcp judges it (nf_conntrack_tcp_loose on,
// the default): a TCP segment with a flag combination tcp_error refuses
// (SYN with FIN or RST, FIN without ACK, no flags, Xmas…), or one that
// cannot start a connection (SYN-ACK, FIN-ACK, RST) is "invalid"; a SYN,
// an ACK (picked up mid-stream) and any UDP datagram are "new". Invalid
// packets get no conntrack entry, so nat chains never see them.
func CTState(p Packet) string {
	if p.Proto != ruleset.TCP {
		return "new"
	}
	const (
		fin, syn, rst, ack, urg = 0x01, 0x02, 0x04, 0x10, 0x20
	)
	// tcp_valid_flags, ignoring PSH, ECE and CWR.
	switch p.Flags &^ (0x08 | 0x40 | 0x80) {
	case syn, syn | urg, syn | ack, rst, rst | ack, fin | ack, fin | ack | urg, ack, ack | urg:
	default:
		return "invalid"
	}
	// tcp_conntracks from state NONE, by get_conntrack_index.
	switch f := p.Flags; {
	case f&rst != 0, f&syn != 0 && f&ack != 0, f&fin != 0:
		return "invalid"
	case f&syn != 0, f&ack != 0:
		return "new"
	}
	return "invalid"
}

// Verdict is what becomes of a packet.
type Verdict string

// The verdicts: accepted (the policy, or a rule's accept: the host's own
// firewall decides next), dropped, rejected (a TCP reset or ICMP port
// unreachable, from netfilter's reject or from the host's stack after a
// redirect to the answer port), or held in a queue (no program bound:
// dropped).
const (
	Accept Verdict = "accept"
	Drop   Verdict = "drop"
	Reject Verdict = "reject"
	Hold   Verdict = "hold"
)

// Sim evaluates packets against a table and keeps its sets' contents.
type Sim struct {
	Table *ruleset.Table
	// Now is the simulated time; tests move it forward.
	Now time.Duration
	// Logs are the prefixes of the log statements packets hit, in order.
	Logs []string

	// Redirected and Mark say what the last packet Send ran got: sent on
	// to the answer port by a redirect, and the packet mark set on it.
	Redirected bool
	Mark       uint32
	// Chains are the chains the last packet Send ran entered, in order,
	// base chains included: which rules a packet pays for.
	Chains []string

	sets    map[string]map[netip.Addr]time.Duration // expiry per element
	keys    map[string]map[string]time.Duration     // sets keyed by a payload field
	closest time.Duration
}

// never is the expiry of an element without a timeout.
const never = time.Duration(1<<63 - 1)

// New returns a simulator of t with every set empty, at time 0.
func New(t *ruleset.Table) *Sim {
	return &Sim{Table: t, sets: map[string]map[netip.Addr]time.Duration{}, keys: map[string]map[string]time.Duration{}, closest: -1}
}

// Has reports whether a is in set at Now.
func (s *Sim) Has(set string, a netip.Addr) bool {
	exp, ok := s.sets[set][a]
	if ok {
		s.near(exp)
	}
	return ok && exp > s.Now
}

// near records how close to an expiry a decision came.
func (s *Sim) near(exp time.Duration) {
	d := exp - s.Now
	if d < 0 {
		d = -d
	}
	if s.closest < 0 || d < s.closest {
		s.closest = d
	}
}

// Closest returns how near to an element's expiry any membership decision
// so far came (-1: none looked at an element). A real kernel keeps time in
// ticks and sees packets a little after they are sent: a trace whose
// decisions came within a few milliseconds of an expiry cannot be compared.
func (s *Sim) Closest() time.Duration { return s.closest }

// Add puts a in set with its own timeout, as the control plane (the
// monitor) does; it fails when the table has no such set or it is keyed
// by a payload field.
func (s *Sim) Add(set string, a netip.Addr, timeout time.Duration) error {
	if st := s.Table.Set(set); st == nil || st.Typeof != nil {
		return fmt.Errorf("nftsim: no set %q keyed by address", set)
	}
	s.elems(set)[a] = s.Now + timeout
	return nil
}

// AddKey puts key in a set keyed by a payload field (a token set) with
// its own timeout (0: none), as apply installs tokens; it fails when the
// table has no such set or it is keyed by addresses.
func (s *Sim) AddKey(set string, key []byte, timeout time.Duration) error {
	if st := s.Table.Set(set); st == nil || st.Typeof == nil {
		return fmt.Errorf("nftsim: no set %q keyed by a payload field", set)
	}
	if s.keys[set] == nil {
		s.keys[set] = map[string]time.Duration{}
	}
	exp := never
	if timeout > 0 {
		exp = s.Now + timeout
	}
	s.keys[set][string(key)] = exp
	return nil
}

// HasKey reports whether key is in a set keyed by a payload field at Now.
func (s *Sim) HasKey(set string, key []byte) bool {
	exp, ok := s.keys[set][string(key)]
	if ok && exp != never {
		s.near(exp)
	}
	return ok && exp > s.Now
}

// field returns the bytes of a raw payload field of p, false when the
// packet is too short for it (the kernel's payload load fails and the
// rule ends), and an error for a field it does not model.
func field(f ruleset.Payload, p Packet) ([]byte, bool, error) {
	if f.Base != "th" || f.Offset%8 != 0 || f.Len%8 != 0 || f.Offset < 64 || p.Proto != ruleset.UDP {
		return nil, false, fmt.Errorf("nftsim: payload field %s of a %s packet not modelled (only UDP data, @th,64+)", f, p.Proto)
	}
	from, to := f.Offset/8-8, (f.Offset+f.Len)/8-8
	if int(to) > len(p.Payload) {
		return nil, false, nil
	}
	return p.Payload[from:to], true, nil
}

// Delete takes a out of set.
func (s *Sim) Delete(set string, a netip.Addr) { delete(s.sets[set], a) }

// Members returns the sets that hold a at Now, sorted; it does not count
// as a decision for Closest.
func (s *Sim) Members(a netip.Addr) []string {
	var out []string
	for name, m := range s.sets {
		if exp, ok := m[a]; ok && exp > s.Now {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Expiry returns when a leaves set, and false when it is not in it.
func (s *Sim) Expiry(set string, a netip.Addr) (time.Duration, bool) {
	exp, ok := s.sets[set][a]
	return exp, ok && exp > s.Now
}

func (s *Sim) elems(set string) map[netip.Addr]time.Duration {
	if s.sets[set] == nil {
		s.sets[set] = map[netip.Addr]time.Duration{}
	}
	return s.sets[set]
}

// live counts the elements of set at Now.
func (s *Sim) live(set string) int {
	n := 0
	for _, exp := range s.sets[set] {
		if exp > s.Now {
			n++
		}
	}
	return n
}

// Send runs p through the table's base chains and returns its verdict:
// first a nat chain on prerouting (the stealth chain: a redirect sends the
// packet to the answer port, where the host's stack refuses it like any
// closed port, so its verdict is Reject and Redirected is set), then the
// filter chains on the input hook, in priority order. Chains on the output
// hook are not run: they see only packets the host sends, and a trace
// holds arriving packets. It fails on a base chain on another hook, a
// statement it does not model, a jump to a missing chain or a jump loop.
func (s *Sim) Send(p Packet) (Verdict, error) {
	s.Redirected, s.Mark, s.Chains = false, 0, nil
	var nat, bases []*ruleset.Chain
	for _, c := range s.Table.Chains {
		switch h := c.Hook; {
		case h == nil, h.Hook == "output" && h.Type == "filter":
		case h.Hook == "prerouting" && h.Type == "nat":
			nat = append(nat, c)
		case h.Hook == "input" && h.Type == "filter":
			bases = append(bases, c)
		default:
			return "", fmt.Errorf("nftsim: base chain %q (type %s hook %s) not modelled", c.Name, c.Hook.Type, c.Hook.Hook)
		}
	}
	for _, c := range nat {
		if CTState(p) == "invalid" {
			break // no conntrack entry: nat hooks skip the packet
		}
		v, err := s.chain(c.Name, &p, 0)
		if err != nil {
			return "", err
		}
		if v == Drop {
			return Drop, nil
		}
	}
	sort.SliceStable(bases, func(i, j int) bool { return bases[i].Hook.Priority < bases[j].Hook.Priority })
	for _, c := range bases {
		v, err := s.chain(c.Name, &p, 0)
		if err != nil {
			return "", err
		}
		switch {
		case v == "" && c.Hook.Policy == "drop":
			return Drop, nil
		case v != "" && v != Accept:
			return v, nil
		}
		// An accept (or the accept policy) ends this base chain only; the
		// next one on the hook still runs.
	}
	if s.Redirected {
		return Reject, nil
	}
	return Accept, nil
}

// chain evaluates one chain: a final verdict, or "" when it returned or
// fell through.
func (s *Sim) chain(name string, p *Packet, depth int) (Verdict, error) {
	c := s.Table.Chain(name)
	if c == nil {
		return "", fmt.Errorf("nftsim: no chain %q", name)
	}
	if depth > 16 {
		return "", fmt.Errorf("nftsim: jumps nest deeper than 16 at chain %q (a loop?)", name)
	}
	s.Chains = append(s.Chains, name)
	for _, r := range c.Rules {
		v, stop, err := s.rule(r, p, depth)
		if err != nil || v != "" {
			return v, err
		}
		if stop {
			return "", nil
		}
	}
	return "", nil
}

// rule evaluates one rule: a final verdict, or stop=true for return.
// Statements run in order; a match that fails ends the rule, so effects
// before it (set updates, logs) stay done, as in the kernel.
func (s *Sim) rule(r *ruleset.Rule, p *Packet, depth int) (v Verdict, stop bool, err error) {
	family := ruleset.IPv4
	if p.Src.Is6() {
		family = ruleset.IPv6
	}
	for _, st := range r.Stmts {
		switch st := st.(type) {
		case ruleset.CTState:
			if !contains(st.States, CTState(*p)) {
				return "", false, nil
			}
		case ruleset.IIFName:
			if n, ok := strings.CutSuffix(st.Name, "*"); ok && !strings.HasPrefix(p.IIf, n) || !ok && p.IIf != st.Name {
				return "", false, nil
			}
		case ruleset.L4Proto:
			if p.Proto != st.Proto {
				return "", false, nil
			}
		case ruleset.DPort:
			if p.Proto != st.Proto || p.DPort != st.Port {
				return "", false, nil
			}
		case ruleset.TCPFlags:
			if p.Proto != ruleset.TCP || p.Flags&st.Mask != st.Flags {
				return "", false, nil
			}
		case ruleset.SAddrPrefix:
			if !st.Prefix.Contains(p.Src) {
				return "", false, nil
			}
		case ruleset.SAddrIn:
			if st.Family != family || s.Has(st.Set, p.Src) == st.Not {
				return "", false, nil
			}
		case ruleset.SetSAddr:
			if st.Family != family { // nft's implicit meta nfproto dependency
				return "", false, nil
			}
			set := s.Table.Set(st.Set)
			if set == nil {
				return "", false, fmt.Errorf("nftsim: rule %q uses a set %q the table lacks", r, st.Set)
			}
			switch {
			case st.Op == ruleset.OpDelete:
				s.Delete(st.Set, p.Src)
			case s.Has(st.Set, p.Src):
				if st.Op == ruleset.OpUpdate {
					s.elems(st.Set)[p.Src] = s.Now + set.Timeout
				}
			case set.Size > 0 && s.live(st.Set) >= int(set.Size):
				// A full set refuses the element and the rule ends there.
				// The kernel also counts expired elements its garbage
				// collector has not reaped yet: near a full set the two
				// can differ, so tests keep sets far from full.
				return "", false, nil
			default:
				s.elems(st.Set)[p.Src] = s.Now + set.Timeout
			}
		case ruleset.SPort:
			if p.Proto != st.Proto || p.SPort != st.Port {
				return "", false, nil
			}
		case ruleset.SetPort:
			if p.Proto != ruleset.TCP {
				return "", false, nil
			}
			if st.Source {
				p.SPort = st.Port
			} else {
				p.DPort = st.Port
			}
		case ruleset.Redirect:
			// A nat statement ends its chain; the packet goes on to the
			// answer port.
			p.DPort = st.Port
			s.Redirected = true
			return Accept, false, nil
		case ruleset.MarkSet:
			s.Mark = st.Mark
		case ruleset.NFProto:
			if st.Family != family {
				return "", false, nil
			}
		case ruleset.PayloadIn:
			b, ok, err := field(st.Field, *p)
			if err != nil || !ok || !s.HasKey(st.Set, b) {
				return "", false, err
			}
		case ruleset.SetPayload:
			b, ok, err := field(st.Field, *p)
			if err != nil || !ok {
				return "", false, err
			}
			set := s.Table.Set(st.Set)
			if set == nil || set.Typeof == nil {
				return "", false, fmt.Errorf("nftsim: rule %q uses a set %q the table lacks or keys by address", r, st.Set)
			}
			switch {
			case st.Op == ruleset.OpDelete:
				delete(s.keys[st.Set], string(b))
			case s.HasKey(st.Set, b) && st.Op != ruleset.OpUpdate:
			default:
				if err := s.AddKey(st.Set, b, set.Timeout); err != nil {
					return "", false, err
				}
			}
		case ruleset.Log:
			s.Logs = append(s.Logs, st.Prefix)
		case ruleset.Reject:
			return Reject, false, nil
		case ruleset.Queue:
			return Hold, false, nil
		case ruleset.Verdict:
			switch st.Kind {
			case "return":
				return "", true, nil
			case "jump", "goto":
				v, err := s.chain(st.Chain, p, depth+1)
				if err != nil || v != "" {
					return v, false, err
				}
				// Back from a jump the next rule runs; back from a goto
				// this chain is done too.
				return "", st.Kind == "goto", nil
			case "accept":
				return Accept, false, nil
			case "drop":
				return Drop, false, nil
			default:
				return "", false, fmt.Errorf("nftsim: verdict %q not modelled", st.Kind)
			}
		default:
			return "", false, fmt.Errorf("nftsim: statement %T (%v) not modelled", st, st)
		}
	}
	return "", false, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
