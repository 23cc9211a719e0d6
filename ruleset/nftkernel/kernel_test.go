//go:build linux

package nftkernel

import (
	"github.com/knockc/knockc/internal/testenv/netns"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/nftables"

	"github.com/knockc/knockc/ruleset"
)

// kernelConvTable holds one of every statement kind, in the shapes knockc's
// compiler writes them.
func kernelConvTable(name string) *ruleset.Table {
	return &ruleset.Table{
		Name: name,
		Sets: []*ruleset.Set{
			{Name: "ssh_step1_v4", Family: ruleset.IPv4, Timeout: 10 * time.Second, Size: 1024},
			{Name: "ssh_open_v6", Family: ruleset.IPv6, Timeout: 90*time.Minute + 500*time.Millisecond, Size: 4096},
		},
		Chains: []*ruleset.Chain{
			{
				Name: "input",
				Hook: &ruleset.Hook{Type: "filter", Hook: "input", Priority: -150, Policy: "accept"},
				Rules: []*ruleset.Rule{
					{Stmts: []ruleset.Stmt{
						ruleset.CTState{States: []string{"established", "related"}},
						ruleset.Verdict{Kind: "accept"},
					}},
					{Stmts: []ruleset.Stmt{ruleset.IIFName{Name: "lo"}, ruleset.Verdict{Kind: "accept"}}},
					{Stmts: []ruleset.Stmt{ruleset.IIFName{Name: "eth*"}, ruleset.Verdict{Kind: "jump", Chain: "knock"}}},
					{Stmts: []ruleset.Stmt{ruleset.Verdict{Kind: "goto", Chain: "guard"}}, Comment: "door=ssh role=guard"},
				},
			},
			{
				Name: "knock",
				Rules: []*ruleset.Rule{
					{Stmts: []ruleset.Stmt{
						ruleset.DPort{Proto: ruleset.TCP, Port: 9000},
						ruleset.TCPFlags{Flags: 0x02, Mask: 0x17},
						ruleset.SetSAddr{Op: ruleset.OpAdd, Set: "ssh_step1_v4", Family: ruleset.IPv4},
						ruleset.Log{Prefix: "knockc ssh step1", Group: 4242},
						ruleset.Verdict{Kind: "drop"},
					}, Comment: "door=ssh step=1"},
					{Stmts: []ruleset.Stmt{
						ruleset.DPort{Proto: ruleset.UDP, Port: 7000},
						ruleset.SAddrIn{Family: ruleset.IPv6, Set: "ssh_open_v6"},
						ruleset.SetSAddr{Op: ruleset.OpUpdate, Set: "ssh_open_v6", Family: ruleset.IPv6},
						ruleset.Verdict{Kind: "drop"},
					}},
					{Stmts: []ruleset.Stmt{
						ruleset.SAddrIn{Family: ruleset.IPv4, Set: "ssh_step1_v4", Not: true},
						ruleset.SAddrPrefix{Prefix: netip.MustParsePrefix("203.0.113.0/24")},
						ruleset.SAddrPrefix{Prefix: netip.MustParsePrefix("198.51.100.0/22")},
						ruleset.SetSAddr{Op: ruleset.OpDelete, Set: "ssh_step1_v4", Family: ruleset.IPv4},
						ruleset.Verdict{Kind: "return"},
					}},
					{Stmts: []ruleset.Stmt{
						ruleset.SAddrPrefix{Prefix: netip.MustParsePrefix("2001:db8::/32")},
						ruleset.SAddrPrefix{Prefix: netip.MustParsePrefix("2001:db8:8000::/33")},
						ruleset.SAddrPrefix{Prefix: netip.MustParsePrefix("2001:db8::1/128")},
						ruleset.Reject{},
					}},
					{Stmts: []ruleset.Stmt{ruleset.L4Proto{Proto: ruleset.UDP}, ruleset.Reject{}}},
					{Stmts: []ruleset.Stmt{ruleset.L4Proto{Proto: ruleset.TCP}, ruleset.Reject{TCPReset: true}}},
					{Stmts: []ruleset.Stmt{
						ruleset.SAddrPrefix{Prefix: netip.MustParsePrefix("10.1.2.3/32")},
						ruleset.SAddrPrefix{Prefix: netip.MustParsePrefix("0.0.0.0/0")},
						ruleset.Verdict{Kind: "accept"},
					}},
				},
			},
			{
				Name: "guard",
				Rules: []*ruleset.Rule{
					{Stmts: []ruleset.Stmt{
						ruleset.DPort{Proto: ruleset.TCP, Port: 22},
						ruleset.SAddrIn{Family: ruleset.IPv4, Set: "ssh_step1_v4"},
						ruleset.Log{Prefix: "knockc ssh open", Group: 4242},
						ruleset.Verdict{Kind: "accept"},
					}, Comment: "door=ssh role=open"},
					{Stmts: []ruleset.Stmt{
						ruleset.DPort{Proto: ruleset.TCP, Port: 22},
						ruleset.Reject{TCPReset: true},
					}, Comment: "door=ssh role=closed"},
				},
			},
		},
	}
}

// requireKernel is netns.RequireRoot with the tools these tests run:
// a skip without root, a failure when CI is "true".
func requireKernel(t *testing.T) { t.Helper(); netns.RequireRoot(t, "ip", "nft") }

// convNetns creates a throwaway network namespace (netns.New: removed with
// the test) and returns its name and a connection to nftables inside it.
func convNetns(t *testing.T) (string, *nftables.Conn) {
	t.Helper()
	ns := netns.New(t, "kconv")
	conn, err := nftables.New(nftables.WithNetNSFd(ns.Fd()))
	if err != nil {
		t.Fatalf("nftables.New: %v", err)
	}
	return ns.Name, conn
}

// sendTable adds tbl to the kernel in one batch, as nft -f would.
func sendTable(t *testing.T, conn *nftables.Conn, tbl *ruleset.Table) *nftables.Table {
	t.Helper()
	nt := conn.AddTable(TableObj(tbl))
	for i, s := range tbl.Sets {
		set := SetObj(nt, s)
		set.ID = uint32(i + 1) // never google/nftables' global counter: see Apply
		if err := conn.AddSet(set, nil); err != nil {
			t.Fatalf("AddSet(%s): %v", s.Name, err)
		}
	}
	// All chains before any rule, as nft does: a jump needs its target.
	chains := make([]*nftables.Chain, len(tbl.Chains))
	for i, c := range tbl.Chains {
		ch, err := ChainObj(nt, c)
		if err != nil {
			t.Fatalf("ChainObj(%s): %v", c.Name, err)
		}
		chains[i] = conn.AddChain(ch)
	}
	for i, c := range tbl.Chains {
		ch := chains[i]
		for _, r := range c.Rules {
			exprs, err := RuleExprs(r)
			if err != nil {
				t.Fatalf("RuleExprs(%q): %v", r, err)
			}
			conn.AddRule(&nftables.Rule{Table: nt, Chain: ch, Exprs: exprs, UserData: RuleUserData(r.Comment)})
		}
	}
	if err := conn.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	return nt
}

// TestKernelRoundTrip sends tables to the kernel of a throwaway network
// namespace and checks that nft lists them exactly as ruleset.Render prints
// them, and that they read back as the model they came from.
func TestKernelRoundTrip(t *testing.T) {
	requireKernel(t)
	name, conn := convNetns(t)
	t.Run("every-statement", func(t *testing.T) {
		want := kernelConvTable(name)
		nt := checkKernelTable(t, conn, name, want)
		checkElements(t, conn, nt, want)
	})
	t.Run("every-case", func(t *testing.T) {
		checkKernelTable(t, conn, name, casesTable("cases"))
	})
}

// casesTable returns a table holding every rule of convertCases and
// roundTripRules in one chain, with the sets and chains they refer to.
func casesTable(name string) *ruleset.Table {
	tbl := &ruleset.Table{Name: name}
	addSet := func(set string, f ruleset.Family) {
		if tbl.Set(set) == nil {
			// A set a rule adds to without a size gets 65535 from the
			// kernel, which Render would not print.
			tbl.Sets = append(tbl.Sets, &ruleset.Set{Name: set, Family: f, Timeout: time.Minute, Size: 1024})
		}
	}
	cases := &ruleset.Chain{Name: "cases"}
	tbl.Chains = append(tbl.Chains, cases)
	rules := append([]*ruleset.Rule(nil), roundTripRules...)
	for _, tc := range convertCases {
		rules = append(rules, tc.rule)
	}
	for _, r := range rules {
		cases.Rules = append(cases.Rules, r)
		for _, s := range r.Stmts {
			switch s := s.(type) {
			case ruleset.SAddrIn:
				addSet(s.Set, s.Family)
			case ruleset.SetSAddr:
				addSet(s.Set, s.Family)
			case ruleset.Verdict:
				if s.Chain != "" && tbl.Chain(s.Chain) == nil {
					tbl.Chains = append(tbl.Chains, &ruleset.Chain{Name: s.Chain})
				}
			}
		}
	}
	return tbl
}

// checkKernelTable sends want to the kernel in the network namespace ns and
// checks nft's listing and what ParseRule, ParseChain and ParseSet read back.
func checkKernelTable(t *testing.T, conn *nftables.Conn, ns string, want *ruleset.Table) *nftables.Table {
	t.Helper()
	nt := sendTable(t, conn, want)

	out, err := exec.Command("ip", "netns", "exec", ns, "nft", "list", "table", "inet", want.Name).CombinedOutput()
	if err != nil {
		t.Fatalf("nft list table: %v\n%s", err, out)
	}
	listed := string(out)
	t.Logf("nft list table inet %s:\n%s", want.Name, listed)
	if got, w := strings.TrimSpace(listed), strings.TrimSpace(ruleset.Render(want)); got != w {
		t.Errorf("nft list table inet %s = \n%s\nwant (ruleset.Render)\n%s\ndiff (-want +got):\n%s", want.Name, got, w, cmp.Diff(w, got))
	}

	for _, c := range want.Chains {
		rules, err := conn.GetRules(nt, &nftables.Chain{Name: c.Name, Table: nt})
		if err != nil {
			t.Fatalf("GetRules(%s): %v", c.Name, err)
		}
		var got []*ruleset.Rule
		for _, r := range rules {
			got = append(got, ParseRule(r.Exprs, r.UserData))
		}
		if diff := cmp.Diff(c.Rules, got, modelCmp); diff != "" {
			t.Errorf("ParseRule(GetRules(%s)) mismatch (-want +got):\n%s", c.Name, diff)
		}
	}

	chains, err := conn.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		t.Fatalf("ListChainsOfTableFamily: %v", err)
	}
	var gotChains []*ruleset.Chain
	for _, c := range chains {
		if c.Table.Name == want.Name {
			gotChains = append(gotChains, ParseChain(c))
		}
	}
	var wantChains []*ruleset.Chain
	for _, c := range want.Chains {
		wantChains = append(wantChains, &ruleset.Chain{Name: c.Name, Hook: c.Hook})
	}
	if diff := cmp.Diff(wantChains, gotChains, modelCmp); diff != "" {
		t.Errorf("ParseChain(ListChains(%s)) mismatch (-want +got):\n%s", want.Name, diff)
	}

	sets, err := conn.GetSets(nt)
	if err != nil {
		t.Fatalf("GetSets(%s): %v", want.Name, err)
	}
	var gotSets []*ruleset.Set
	for _, s := range sets {
		gotSets = append(gotSets, ParseSet(s))
	}
	// google/nftables v0.3.0 does not decode a set's comment from its
	// userdata, so GetSets cannot return it; nft's listing above shows the
	// kernel has it.
	ignoreComment := cmp.FilterPath(func(p cmp.Path) bool {
		return p.Last().String() == ".Comment"
	}, cmp.Ignore())
	ignoreSeed := cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".SeedFrom" }, cmp.Ignore())
	if diff := cmp.Diff(want.Sets, gotSets, modelCmp, ignoreComment, ignoreSeed); diff != "" {
		t.Errorf("ParseSet(GetSets(%s)) mismatch (-want +got):\n%s", want.Name, diff)
	}
	return nt
}

// checkElements adds one element to every set and reads it back.
func checkElements(t *testing.T, conn *nftables.Conn, nt *nftables.Table, tbl *ruleset.Table) {
	t.Helper()
	addrs := map[ruleset.Family]netip.Addr{
		ruleset.IPv4: netip.MustParseAddr("192.0.2.7"),
		ruleset.IPv6: netip.MustParseAddr("2001:db8::7"),
	}
	const timeout = time.Minute
	for _, s := range tbl.Sets {
		key := addrs[s.Family].AsSlice()
		if err := conn.SetAddElements(SetObj(nt, s), []nftables.SetElement{{Key: key, Timeout: timeout}}); err != nil {
			t.Fatalf("SetAddElements(%s): %v", s.Name, err)
		}
	}
	if err := conn.Flush(); err != nil {
		t.Fatalf("Flush elements: %v", err)
	}
	for _, s := range tbl.Sets {
		elems, err := conn.GetSetElements(SetObj(nt, s))
		if err != nil {
			t.Fatalf("GetSetElements(%s): %v", s.Name, err)
		}
		if len(elems) != 1 {
			t.Fatalf("GetSetElements(%s) = %d elements, want 1", s.Name, len(elems))
		}
		got := ParseElement(s.Family, elems[0])
		if got.Addr != addrs[s.Family] || got.Expires <= 0 || got.Expires > timeout {
			t.Errorf("ParseElement(%s, %x) = %v %v, want %v with 0 < expires <= %v",
				s.Family, elems[0].Key, got.Addr, got.Expires, addrs[s.Family], timeout)
		}
	}
}
