package compiler_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/ruleset"
)

// chainText returns a chain's rules as nft prints them, or nil.
func chainText(tab *ruleset.Table, name string) []string {
	c := tab.Chain(name)
	if c == nil {
		return nil
	}
	var out []string
	for _, r := range c.Rules {
		out = append(out, r.String())
	}
	return out
}

// stealthText returns the stealth chain's rules with each port chain's
// rules in place of the rule that jumps to it.
func stealthText(tab *ruleset.Table) []string {
	var out []string
	for _, r := range tab.Chain(compiler.StealthChain).Rules {
		if v, ok := r.Stmts[len(r.Stmts)-1].(ruleset.Verdict); ok && v.Kind == ruleset.VerdictJump {
			out = append(out, chainText(tab, v.Chain)...)
			continue
		}
		out = append(out, r.String())
	}
	return out
}

func TestCompileStealthChains(t *testing.T) {
	tab := mustCompile(t, "[door.ssh]\nsequence = [\"7000\"]\nprotect = [\"22/tcp\", \"4500/udp\"]\nfamilies = [\"ipv4\"]\n")
	nat := tab.Chain(compiler.StealthChain)
	if nat == nil || nat.Hook == nil || nat.Hook.String() != "type nat hook prerouting priority dstnat; policy accept;" {
		t.Fatalf("stealth chain = %+v, want a nat prerouting chain at dstnat", nat)
	}
	want := []string{
		`iifname "lo" return comment "role=loopback"`,
		`tcp dport 22 ip saddr @ssh_grant_v4 return comment "door=ssh port=22/tcp role=grant"`,
		`tcp dport 22 redirect to :0 comment "door=ssh port=22/tcp role=answer"`,
		`udp dport 4500 ip saddr @ssh_grant_v4 return comment "door=ssh port=4500/udp role=grant"`,
		`udp dport 4500 redirect to :0 comment "door=ssh port=4500/udp role=answer"`,
	}
	if diff := cmp.Diff(want, stealthText(tab)); diff != "" {
		t.Errorf("stealth chain rules, port chains inlined (-want +got):\n%s", diff)
	}
	want = []string{
		`iifname "lo" return comment "role=loopback"`,
		`tcp dport 22 jump stealth_port_tcp22 comment "port=22/tcp role=stealth"`,
		`udp dport 4500 jump stealth_port_udp4500 comment "port=4500/udp role=stealth"`,
	}
	if diff := cmp.Diff(want, chainText(tab, compiler.StealthChain)); diff != "" {
		t.Errorf("stealth chain rules (-want +got):\n%s", diff)
	}
	want = []string{
		`tcp sport 0 ct state invalid,untracked jump stealth_answers comment "role=answer"`,
	}
	if diff := cmp.Diff(want, chainText(tab, compiler.StealthOutChain)); diff != "" {
		t.Errorf("stealth_out chain rules (-want +got):\n%s", diff)
	}
	want = []string{
		`tcp sport 0 ct state invalid,untracked ip daddr @stealth_tcp22_v4 delete @stealth_tcp22_v4 { ip daddr } tcp sport set 22 return comment "door=ssh port=22/tcp role=answer"`,
	}
	if diff := cmp.Diff(want, chainText(tab, compiler.StealthAnswersChain)); diff != "" {
		t.Errorf("stealth_answers chain rules (-want +got):\n%s", diff)
	}
	out := tab.Chain(compiler.StealthOutChain)
	if out.Hook == nil || out.Hook.Hook != "output" || out.Hook.Priority != compiler.DefaultPriority {
		t.Errorf("stealth_out hook = %+v, want filter output at the table's priority", out.Hook)
	}
	want = []string{
		`tcp dport 22 ip saddr @ssh_grant_v4 return comment "door=ssh port=22/tcp role=grant"`,
		`tcp dport 22 ct state invalid,untracked tcp flags ! rst update @stealth_tcp22_v4 { ip saddr } tcp dport set 0 return comment "door=ssh port=22/tcp role=invalid"`,
		`tcp dport 22 reject with tcp reset comment "door=ssh port=22/tcp role=closed"`,
		`udp dport 4500 ip saddr @ssh_grant_v4 return comment "door=ssh port=4500/udp role=grant"`,
		`udp dport 4500 reject comment "door=ssh port=4500/udp role=closed"`,
	}
	if diff := cmp.Diff(want, chainText(tab, "ssh_gate")); diff != "" {
		t.Errorf("gate rules (-want +got):\n%s", diff)
	}
}

// closed = "drop" keeps dropping: no stealth chains, no answer at all.
func TestCompileStealthDrop(t *testing.T) {
	tab := mustCompile(t, door(`["7000"]`, "[table]\nclosed = \"drop\"\n"))
	if tab.Chain(compiler.StealthChain) != nil || tab.Chain(compiler.StealthOutChain) != nil {
		t.Errorf("closed = \"drop\" compiled stealth chains:\n%s", ruleset.Render(tab))
	}
	for _, s := range tab.Sets {
		if strings.HasPrefix(s.Name, "stealth_") {
			t.Errorf("closed = \"drop\" compiled set %q", s.Name)
		}
	}
	gate := chainText(tab, "ssh_gate")
	if last := gate[len(gate)-1]; last != `tcp dport 22 drop comment "door=ssh port=22/tcp role=closed"` {
		t.Errorf("last gate rule = %q, want the drop", last)
	}
}

// A managed door's pending knockers skip the redirect (their SYNs must reach
// the hold queue); with grant_mark, granted and held packets carry the mark.
func TestCompileStealthManagedAndMark(t *testing.T) {
	tab := mustCompile(t, door(`["7000"]`, "service = \"ssh.service\"\nfamilies = [\"ipv6\"]\n[table]\ngrant_mark = 0x10\nanswer_port = 1\n"))
	want := []string{
		`iifname "lo" return comment "role=loopback"`,
		`tcp dport 22 ip6 saddr @ssh_grant_v6 return comment "door=ssh port=22/tcp role=grant"`,
		`tcp dport 22 ip6 saddr @ssh_pending_v6 return comment "door=ssh port=22/tcp role=pending"`,
		`tcp dport 22 redirect to :1 comment "door=ssh port=22/tcp role=answer"`,
	}
	if diff := cmp.Diff(want, stealthText(tab)); diff != "" {
		t.Errorf("stealth chain rules (-want +got):\n%s", diff)
	}
	want = []string{
		`tcp dport 22 ip6 saddr @ssh_grant_v6 meta mark set 0x00000010 return comment "door=ssh port=22/tcp role=grant"`,
		`tcp dport 22 ip6 saddr @ssh_pending_v6 meta mark set 0x00000010 queue num 4242 comment "door=ssh port=22/tcp role=pending"`,
		`tcp dport 22 ct state invalid,untracked tcp flags ! rst update @stealth_tcp22_v6 { ip6 saddr } tcp dport set 1 return comment "door=ssh port=22/tcp role=invalid"`,
		`tcp dport 22 reject with tcp reset comment "door=ssh port=22/tcp role=closed"`,
	}
	if diff := cmp.Diff(want, chainText(tab, "ssh_gate")); diff != "" {
		t.Errorf("gate rules (-want +got):\n%s", diff)
	}
	if got := chainText(tab, compiler.StealthOutChain); len(got) != 1 || !strings.HasPrefix(got[0], "tcp sport 1 ") {
		t.Errorf("stealth_out rules = %q, want one for answer port 1", got)
	}
}

// lo listed in interfaces: loopback is gated, so the stealth chain has no
// loopback exemption either.
func TestCompileStealthLoopbackListed(t *testing.T) {
	tab := mustCompile(t, door(`["7000"]`, "[table]\ninterfaces = [\"lo\"]\n"))
	for _, r := range chainText(tab, compiler.StealthChain) {
		if strings.Contains(r, "role=loopback") {
			t.Errorf("stealth chain exempts lo although interfaces lists it: %q", r)
		}
	}
}

// TestSimStealth: a non-granted SYN to the protected port is redirected and
// refused by the stack (never by netfilter); after the knock it passes,
// marked when grant_mark is set, and is not redirected.
func TestSimStealth(t *testing.T) {
	tab := mustCompile(t, door(`["7000", "8000"]`, "[table]\ngrant_mark = 0x4b\n"))
	s := newSim(t, tab)
	if got := s.sendAll(syn(client, 22)); got != "reject" || !s.Redirected {
		t.Errorf("before knocking: SYN to 22 = %s (redirected %v), want reject by the stack after a redirect", got, s.Redirected)
	}
	if got := s.sendAll(on(syn("127.0.0.1", 22), "lo")); got != "accept" || s.Redirected {
		t.Errorf("SYN to 22 over lo = %s (redirected %v), want accept, not redirected", got, s.Redirected)
	}
	s.sendAll(syn(client, 7000), syn(client, 8000))
	if !s.Has("ssh_grant_v4", netip.MustParseAddr(client)) {
		t.Fatal("the knock did not grant")
	}
	if got := s.sendAll(syn(client, 22)); got != "accept" || s.Redirected || s.Mark != 0x4b {
		t.Errorf("granted: SYN to 22 = %s (redirected %v, mark %#x), want accept, not redirected, mark 0x4b", got, s.Redirected, s.Mark)
	}
}

// A door's own grant_mark overrides the table's; 0 turns marking off for
// that door alone.
func TestCompileDoorGrantMark(t *testing.T) {
	tab := mustCompile(t, "[table]\ngrant_mark = 0x10\n"+
		"[door.a]\nsequence = [\"7000\"]\nprotect = [\"22\"]\nfamilies = [\"ipv4\"]\n"+
		"[door.b]\nsequence = [\"7100\"]\nprotect = [\"23\"]\nfamilies = [\"ipv4\"]\ngrant_mark = 0x20\n"+
		"[door.c]\nsequence = [\"7200\"]\nprotect = [\"24\"]\nfamilies = [\"ipv4\"]\ngrant_mark = 0\n")
	for door, want := range map[string]string{
		"a": `tcp dport 22 ip saddr @a_grant_v4 meta mark set 0x00000010 return comment "door=a port=22/tcp role=grant"`,
		"b": `tcp dport 23 ip saddr @b_grant_v4 meta mark set 0x00000020 return comment "door=b port=23/tcp role=grant"`,
		"c": `tcp dport 24 ip saddr @c_grant_v4 return comment "door=c port=24/tcp role=grant"`,
	} {
		if got := chainText(tab, door+"_gate")[0]; got != want {
			t.Errorf("door %s grant rule = %q, want %q", door, got, want)
		}
	}
}
