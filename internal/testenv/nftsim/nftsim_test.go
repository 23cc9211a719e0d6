package nftsim

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/knockc/knockc/ruleset"
)

var src = netip.MustParseAddr("198.51.100.7")

// table is an input chain that jumps to "c", whose rules are given.
func table(rules ...*ruleset.Rule) *ruleset.Table {
	return &ruleset.Table{
		Name: "t",
		Sets: []*ruleset.Set{{Name: "s", Family: ruleset.IPv4, Timeout: 100 * time.Millisecond, Size: 2}},
		Chains: []*ruleset.Chain{
			{Name: "input", Hook: &ruleset.Hook{Type: "filter", Hook: "input", Policy: "accept"}, Rules: []*ruleset.Rule{
				{Stmts: []ruleset.Stmt{ruleset.Verdict{Kind: "jump", Chain: "c"}}},
				{Stmts: []ruleset.Stmt{ruleset.SAddrIn{Family: ruleset.IPv4, Set: "s"}, ruleset.Verdict{Kind: "drop"}}},
			}},
			{Name: "c", Rules: rules},
		},
	}
}

func rule(stmts ...ruleset.Stmt) *ruleset.Rule { return &ruleset.Rule{Stmts: stmts} }

func tcp(port uint16) Packet {
	return Packet{Src: src, Proto: ruleset.TCP, DPort: port, Flags: 0x02, IIf: "eth0"}
}

func mustSend(t *testing.T, s *Sim, p Packet) Verdict {
	t.Helper()
	v, err := s.Send(p)
	if err != nil {
		t.Fatalf("Send(%+v) = %v", p, err)
	}
	return v
}

// An element lives while Now is before its expiry, as the kernel's
// nft_set_elem_expired has it; add keeps an element's expiry, update
// restarts it.
func TestTimeouts(t *testing.T) {
	for _, op := range []ruleset.SetOp{ruleset.OpAdd, ruleset.OpUpdate} {
		s := New(table(rule(ruleset.DPort{Proto: ruleset.TCP, Port: 1}, ruleset.SetSAddr{Op: op, Set: "s", Family: ruleset.IPv4})))
		mustSend(t, s, tcp(1))
		s.Now = 60 * time.Millisecond
		mustSend(t, s, tcp(1))
		s.Now = 99 * time.Millisecond
		if !s.Has("s", src) {
			t.Errorf("%s: gone at 99ms, want there", op)
		}
		s.Now = 100 * time.Millisecond
		if got, want := s.Has("s", src), op == ruleset.OpUpdate; got != want {
			t.Errorf("%s: Has at 100ms = %v, want %v", op, got, want)
		}
		s.Now = 160 * time.Millisecond
		if s.Has("s", src) {
			t.Errorf("%s: there at 160ms, want gone", op)
		}
		if got := s.Closest(); got != 0 {
			t.Errorf("%s: Closest() = %v, want 0 (a decision at the expiry itself)", op, got)
		}
	}
}

// A full set refuses a new element and ends the rule: the drop after it
// does not happen.
func TestFullSet(t *testing.T) {
	s := New(table(rule(ruleset.SetSAddr{Op: ruleset.OpAdd, Set: "s", Family: ruleset.IPv4}, ruleset.Verdict{Kind: "accept"})))
	for _, a := range []string{"192.0.2.1", "192.0.2.2"} {
		if err := s.Add("s", netip.MustParseAddr(a), time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if got := mustSend(t, s, tcp(1)); got != Accept {
		t.Errorf("verdict = %s, want accept (the policy)", got)
	}
	if s.Has("s", src) {
		t.Errorf("a full set took a third element")
	}
}

// return ends a chain, goto does not come back, the next rule runs after a
// jump.
func TestVerdicts(t *testing.T) {
	tab := table(
		rule(ruleset.DPort{Proto: ruleset.TCP, Port: 1}, ruleset.Verdict{Kind: "return"}),
		rule(ruleset.DPort{Proto: ruleset.TCP, Port: 2}, ruleset.Reject{TCPReset: true}),
		rule(ruleset.DPort{Proto: ruleset.TCP, Port: 3}, ruleset.Queue{Num: 1}),
		rule(ruleset.DPort{Proto: ruleset.UDP, Port: 3}, ruleset.Verdict{Kind: "drop"}),
	)
	s := New(tab)
	for _, tc := range []struct {
		p    Packet
		want Verdict
	}{
		{tcp(1), Accept}, {tcp(2), Reject}, {tcp(3), Hold}, {tcp(4), Accept},
		{Packet{Src: src, Proto: ruleset.UDP, DPort: 3}, Drop},
	} {
		if got := mustSend(t, s, tc.p); got != tc.want {
			t.Errorf("Send(%+v) = %s, want %s", tc.p, got, tc.want)
		}
	}
}

// What it does not model is an error, never a guess.
func TestUnmodelled(t *testing.T) {
	s := New(table(rule(ruleset.Raw{Text: "counter"})))
	if _, err := s.Send(tcp(1)); err == nil || !strings.Contains(err.Error(), "not modelled") {
		t.Errorf("Send through a raw statement = %v, want a not-modelled error", err)
	}
	tab := table()
	tab.Chains = append(tab.Chains, &ruleset.Chain{Name: "nat", Hook: &ruleset.Hook{Type: "nat", Hook: "postrouting", Policy: "accept"}})
	if _, err := New(tab).Send(tcp(1)); err == nil || !strings.Contains(err.Error(), "not modelled") {
		t.Errorf("Send with a nat postrouting chain = %v, want a not-modelled error", err)
	}
	tab = table(rule(ruleset.DAddrIn{Family: ruleset.IPv4, Set: "x"}))
	if _, err := New(tab).Send(tcp(1)); err == nil || !strings.Contains(err.Error(), "not modelled") {
		t.Errorf("Send through ip daddr @x = %v, want a not-modelled error", err)
	}
}

// A redirect in the nat prerouting chain sends the packet on to the answer
// port: the input chain sees that port, and the stack refuses it (Reject,
// Redirected). Output chains are not run; a mark set on the way is kept.
func TestRedirectAndMark(t *testing.T) {
	tab := table(
		rule(ruleset.DPort{Proto: ruleset.TCP, Port: 22}, ruleset.Verdict{Kind: "drop"}),
		rule(ruleset.DPort{Proto: ruleset.TCP, Port: 23}, ruleset.MarkSet{Mark: 0x10}, ruleset.Verdict{Kind: "return"}),
	)
	tab.Chains = append(tab.Chains,
		&ruleset.Chain{Name: "stealth", Hook: &ruleset.Hook{Type: "nat", Hook: "prerouting", Priority: -100, Policy: "accept"}, Rules: []*ruleset.Rule{
			rule(ruleset.DPort{Proto: ruleset.TCP, Port: 22}, ruleset.Redirect{Port: 0}),
		}},
		&ruleset.Chain{Name: "out", Hook: &ruleset.Hook{Type: "filter", Hook: "output", Policy: "accept"}, Rules: []*ruleset.Rule{
			rule(ruleset.DAddrIn{Family: ruleset.IPv4, Set: "x"}),
		}})
	s := New(tab)
	if got := mustSend(t, s, tcp(22)); got != Reject || !s.Redirected {
		t.Errorf("Send(tcp 22) = %s (redirected %v), want reject after a redirect (the input chain's drop for 22 never sees it)", got, s.Redirected)
	}
	if got := mustSend(t, s, tcp(23)); got != Accept || s.Redirected || s.Mark != 0x10 {
		t.Errorf("Send(tcp 23) = %s (redirected %v, mark %#x), want accept, not redirected, mark 0x10", got, s.Redirected, s.Mark)
	}
}

// A token rule spends the token it matched in the same packet: the same
// datagram again matches nothing. A datagram too short for the field
// matches nothing either, and an IPv6 sender never spends through the
// IPv4 rule.
func TestToken(t *testing.T) {
	field := ruleset.TokenField
	tab := table(rule(
		ruleset.NFProto{Family: ruleset.IPv4},
		ruleset.DPort{Proto: ruleset.UDP, Port: 62201},
		ruleset.PayloadIn{Field: field, Set: "tok"},
		ruleset.SetPayload{Op: ruleset.OpDelete, Set: "tok", Field: field},
		ruleset.SetSAddr{Op: ruleset.OpUpdate, Set: "s", Family: ruleset.IPv4},
		ruleset.Verdict{Kind: "return"},
	))
	tab.Sets = append(tab.Sets, &ruleset.Set{Name: "tok", Typeof: &field, Size: 64})
	s := New(tab)
	tok := []byte("0123456789abcdef")
	if err := s.AddKey("tok", tok, time.Minute); err != nil {
		t.Fatal(err)
	}
	udp := func(from netip.Addr, payload []byte) Packet {
		return Packet{Src: from, Proto: ruleset.UDP, DPort: 62201, Payload: payload}
	}
	for _, p := range []Packet{udp(src, tok[:15]), udp(netip.MustParseAddr("2001:db8::7"), tok)} {
		mustSend(t, s, p)
		if s.Has("s", p.Src) || !s.HasKey("tok", tok) {
			t.Errorf("%+v: granted %v, token left %v; want no grant and the token unspent", p, s.Has("s", p.Src), s.HasKey("tok", tok))
		}
	}
	mustSend(t, s, udp(src, append(append([]byte{}, tok...), "trailing"...)))
	if !s.Has("s", src) || s.HasKey("tok", tok) {
		t.Errorf("after the token: granted %v, token left %v; want granted and spent", s.Has("s", src), s.HasKey("tok", tok))
	}
	if _, err := s.Send(Packet{Src: src, Proto: ruleset.TCP, DPort: 62201}); err != nil {
		t.Errorf("a TCP packet stops at the udp dport match: Send = %v", err)
	}
}

// CTState follows conntrack for a flow's first segment: SYN and ACK start
// one, SYN-ACK, FIN, RST, NULL, Xmas and bad combinations do not.
func TestCTState(t *testing.T) {
	for flags, want := range map[uint8]string{
		0x02: "new", 0x22: "new", 0x0a: "new", 0xc2: "new", 0x10: "new", 0x18: "new",
		0x12: "invalid", 0x01: "invalid", 0x11: "invalid", 0x04: "invalid", 0x14: "invalid",
		0x00: "invalid", 0x29: "invalid", 0x03: "invalid", 0x06: "invalid", 0xff: "invalid",
	} {
		if got := CTState(Packet{Proto: ruleset.TCP, Flags: flags}); got != want {
			t.Errorf("CTState(tcp flags %#02x) = %q, want %q", flags, got, want)
		}
	}
	if got := CTState(Packet{Proto: ruleset.UDP}); got != "new" {
		t.Errorf("CTState(udp) = %q, want new", got)
	}
}

// An invalid packet gets no conntrack entry, so a nat chain never sees it,
// while a ct state match in a filter chain does.
func TestInvalidSkipsNat(t *testing.T) {
	tab := table(rule(ruleset.CTState{States: []string{"invalid", "untracked"}}, ruleset.Verdict{Kind: "drop"}))
	tab.Chains = append(tab.Chains, &ruleset.Chain{Name: "nat", Hook: &ruleset.Hook{Type: "nat", Hook: "prerouting", Priority: -100, Policy: "accept"},
		Rules: []*ruleset.Rule{rule(ruleset.DPort{Proto: ruleset.TCP, Port: 22}, ruleset.Redirect{Port: 0})}})
	s := New(tab)
	fin := tcp(22)
	fin.Flags = 0x01
	if got := mustSend(t, s, fin); got != Drop || s.Redirected {
		t.Errorf("FIN to 22: verdict %s, redirected %v; want drop by the ct state rule, not redirected", got, s.Redirected)
	}
	if got := mustSend(t, s, tcp(22)); got != Reject || !s.Redirected {
		t.Errorf("SYN to 22: verdict %s, redirected %v; want the stack's answer after a redirect", got, s.Redirected)
	}
}
