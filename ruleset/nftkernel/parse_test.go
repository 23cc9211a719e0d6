package nftkernel

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/knockc/knockc/ruleset"
)

// modelCmp compares netip values by value.
var modelCmp = cmp.Options{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
}

// roundTripRules are rules beyond convertCases that ParseRule must read
// back from RuleExprs unchanged.
var roundTripRules = []*ruleset.Rule{
	{
		Stmts: []ruleset.Stmt{
			ruleset.DPort{Proto: ruleset.TCP, Port: 9000},
			ruleset.TCPFlags{Flags: 0x02, Mask: 0x17},
			ruleset.SAddrIn{Family: ruleset.IPv4, Set: "step0_v4"},
			ruleset.SetSAddr{Op: ruleset.OpAdd, Set: "step1_v4", Family: ruleset.IPv4},
			ruleset.SetSAddr{Op: ruleset.OpDelete, Set: "step0_v4", Family: ruleset.IPv4},
			ruleset.Log{Prefix: "knockc ssh step1", Group: 4242},
			ruleset.Verdict{Kind: "drop"},
		},
		Comment: "door=ssh step=1",
	},
	{
		Stmts: []ruleset.Stmt{
			ruleset.IIFName{Name: "wg*"},
			ruleset.DPort{Proto: ruleset.UDP, Port: 7000},
			ruleset.SAddrPrefix{Prefix: netip.MustParsePrefix("2001:db8::/32")},
			ruleset.SAddrIn{Family: ruleset.IPv6, Set: "open_v6", Not: true},
			ruleset.SetSAddr{Op: ruleset.OpUpdate, Set: "open_v6", Family: ruleset.IPv6},
			ruleset.Reject{},
		},
		Comment: "door=wg role=open",
	},
	{
		Stmts: []ruleset.Stmt{
			ruleset.CTState{States: []string{"invalid", "established", "related", "new", "untracked"}},
			ruleset.L4Proto{Proto: ruleset.UDP},
			ruleset.SAddrPrefix{Prefix: netip.MustParsePrefix("::ffff:192.0.2.0/120")},
			ruleset.Verdict{Kind: "jump", Chain: "knock"},
		},
	},
	{
		Stmts: []ruleset.Stmt{
			ruleset.DPort{Proto: ruleset.TCP, Port: 22},
			ruleset.DPort{Proto: ruleset.TCP, Port: 23},
			ruleset.L4Proto{Proto: ruleset.TCP},
			ruleset.SAddrPrefix{Prefix: netip.MustParsePrefix("198.51.100.7/32")},
			ruleset.Reject{TCPReset: true},
		},
	},
	{
		Stmts: []ruleset.Stmt{
			ruleset.TCPFlags{Flags: 0x12, Mask: 0x17},
			ruleset.L4Proto{Proto: ruleset.TCP},
			ruleset.L4Proto{Proto: ruleset.UDP},
		},
	},
	{Stmts: []ruleset.Stmt{ruleset.Verdict{Kind: "drop"}}, Comment: "policy"},
}

// decoded returns e as google/nftables decodes it from the netlink bytes it
// marshals, as GetRules would hand it over.
func decoded(t *testing.T, e expr.Any) expr.Any {
	t.Helper()
	fam := byte(nftables.TableFamilyINet)
	data, err := expr.MarshalExprData(fam, e)
	if err != nil {
		t.Fatalf("expr.MarshalExprData(%s) = %v", dump(e), err)
	}
	out := reflect.New(reflect.TypeOf(e).Elem()).Interface().(expr.Any)
	if err := expr.Unmarshal(fam, data, out); err != nil {
		t.Fatalf("expr.Unmarshal(%s) = %v", dump(e), err)
	}
	return out
}

func TestParseRuleRoundTrip(t *testing.T) {
	rules := append([]*ruleset.Rule(nil), roundTripRules...)
	for _, tc := range convertCases {
		rules = append(rules, tc.rule)
	}
	for _, r := range rules {
		exprs, err := RuleExprs(r)
		if err != nil {
			t.Fatalf("RuleExprs(%q) = %v", r, err)
		}
		got := ParseRule(exprs, RuleUserData(r.Comment))
		if diff := cmp.Diff(r, got, modelCmp); diff != "" {
			t.Errorf("ParseRule(RuleExprs(%q)) mismatch (-want +got):\n%s", r, diff)
		}

		// The same after a trip through netlink encoding.
		var dec []expr.Any
		for _, e := range exprs {
			dec = append(dec, decoded(t, e))
		}
		got = ParseRule(dec, RuleUserData(r.Comment))
		if diff := cmp.Diff(r, got, modelCmp); diff != "" {
			t.Errorf("ParseRule(decoded RuleExprs(%q)) mismatch (-want +got):\n%s", r, diff)
		}
	}
}

// renumber sets the registers of the expressions of a statement-sized
// group to r: every load and the expressions reading it agree.
func renumber(es []expr.Any, r uint32) {
	for _, e := range es {
		switch e := e.(type) {
		case *expr.Meta:
			e.Register = r
		case *expr.Ct:
			e.Register = r
		case *expr.Cmp:
			e.Register = r
		case *expr.Payload:
			e.DestRegister = r
		case *expr.Bitwise:
			e.SourceRegister, e.DestRegister = r, r
		case *expr.Lookup:
			e.SourceRegister = r
		case *expr.Dynset:
			e.SrcRegKey = r
		}
	}
}

func TestParseRuleRegisters(t *testing.T) {
	r := roundTripRules[0]
	exprs, err := RuleExprs(r)
	if err != nil {
		t.Fatalf("RuleExprs(%q) = %v", r, err)
	}
	// nft 1.0.6 uses the 128-bit register 1; other writers use the 32-bit
	// registers 8 to 23, and any of them per statement.
	renumber(exprs[0:2], 8)   // meta l4proto
	renumber(exprs[2:4], 9)   // tcp dport
	renumber(exprs[4:7], 12)  // tcp flags
	renumber(exprs[7:11], 2)  // meta nfproto, ip saddr @step0_v4
	renumber(exprs[11:13], 3) // add @step1_v4
	renumber(exprs[13:15], 23)
	if got := ParseRule(exprs, RuleUserData(r.Comment)); !cmp.Equal(r, got, modelCmp) {
		t.Errorf("ParseRule(renumbered RuleExprs(%q)) = %q, want %q", r, got, r)
	}

	// A comparison of a register the load before it did not write is not
	// the match it looks like.
	exprs, _ = RuleExprs(ruleOf(ruleset.DPort{Proto: ruleset.TCP, Port: 22}, ruleset.Verdict{Kind: "accept"}))
	exprs[3].(*expr.Cmp).Register = 2
	want := ruleOf(
		ruleset.L4Proto{Proto: ruleset.TCP},
		ruleset.Raw{Text: "[payload load 2b @ transport header + 2 => reg 1]"},
		ruleset.Raw{Text: "[cmp eq reg 2 0x0016]"},
		ruleset.Verdict{Kind: "accept"},
	)
	if got := ParseRule(exprs, nil); !cmp.Equal(want, got, modelCmp) {
		t.Errorf("ParseRule(tcp dport 22 with cmp on reg 2) = %q, want %q", got, want)
	}
}

func TestParseRuleUnknown(t *testing.T) {
	l4 := func(p byte) []expr.Any {
		return []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}},
		}
	}
	nf := func(p byte) []expr.Any {
		return []expr.Any{
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}},
		}
	}
	cat := func(parts ...any) []expr.Any {
		var out []expr.Any
		for _, p := range parts {
			switch p := p.(type) {
			case []expr.Any:
				out = append(out, p...)
			case expr.Any:
				out = append(out, p)
			}
		}
		return out
	}
	accept := &expr.Verdict{Kind: expr.VerdictAccept}
	saddr4 := &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4}
	raw := func(s string) ruleset.Stmt { return ruleset.Raw{Text: s} }

	cases := []struct {
		name  string
		exprs []expr.Any
		want  []ruleset.Stmt
	}{
		{
			// counter accept
			name:  "counter",
			exprs: cat(&expr.Counter{Bytes: 1234, Packets: 5}, accept),
			want:  []ruleset.Stmt{raw("[counter]"), ruleset.Verdict{Kind: "accept"}},
		},
		{
			// meta nfproto ipv4 accept
			name:  "nfproto-alone",
			exprs: cat(nf(unix.NFPROTO_IPV4), accept),
			want:  []ruleset.Stmt{ruleset.NFProto{Family: ruleset.IPv4}, ruleset.Verdict{Kind: "accept"}},
		},
		{
			// meta nfproto ipv6 meta l4proto udp
			name:  "nfproto-before-l4proto",
			exprs: cat(nf(unix.NFPROTO_IPV6), l4(unix.IPPROTO_UDP)),
			want:  []ruleset.Stmt{ruleset.NFProto{Family: ruleset.IPv6}, ruleset.L4Proto{Proto: ruleset.UDP}},
		},
		{
			// meta l4proto icmp meta l4proto 200
			name:  "l4proto-other",
			exprs: cat(l4(unix.IPPROTO_ICMP), l4(200)),
			want:  []ruleset.Stmt{raw("meta l4proto icmp"), raw("meta l4proto 200")},
		},
		{
			// @nh,32,16 without a dependency
			name:  "payload-elsewhere",
			exprs: cat(&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 4, Len: 2}),
			want:  []ruleset.Stmt{raw("[payload load 2b @ network header + 4 => reg 1]")},
		},
		{
			// ip saddr @s without its meta nfproto dependency
			name:  "saddr-without-dependency",
			exprs: cat(saddr4, &expr.Lookup{SourceRegister: 1, SetName: "s"}),
			want: []ruleset.Stmt{
				raw("[payload load 4b @ network header + 12 => reg 1]"),
				raw("[lookup reg 1 set s]"),
			},
		},
		{
			// ip6 saddr @s after meta nfproto ipv4: the wrong field
			name:  "saddr-wrong-family",
			exprs: cat(nf(unix.NFPROTO_IPV4), &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 8, Len: 16}, &expr.Lookup{SourceRegister: 1, SetName: "s"}),
			want: []ruleset.Stmt{
				ruleset.NFProto{Family: ruleset.IPv4},
				raw("[payload load 16b @ network header + 8 => reg 1]"),
				raw("[lookup reg 1 set s]"),
			},
		},
		{
			// add @s { ip saddr timeout 5s }
			name:  "dynset-timeout",
			exprs: cat(nf(unix.NFPROTO_IPV4), saddr4, &expr.Dynset{SrcRegKey: 1, SetName: "s", Timeout: 5 * time.Second}),
			want: []ruleset.Stmt{
				ruleset.NFProto{Family: ruleset.IPv4},
				raw("[payload load 4b @ network header + 12 => reg 1]"),
				raw("[dynset add reg_key 1 set s timeout 5000ms]"),
			},
		},
		{
			// update @s { ip saddr counter }
			name:  "dynset-expr",
			exprs: cat(nf(unix.NFPROTO_IPV4), saddr4, &expr.Dynset{SrcRegKey: 1, SetName: "s", Operation: 1, Exprs: []expr.Any{&expr.Counter{}}}),
			want: []ruleset.Stmt{
				ruleset.NFProto{Family: ruleset.IPv4},
				raw("[payload load 4b @ network header + 12 => reg 1]"),
				raw("[dynset update reg_key 1 set s expr [counter]]"),
			},
		},
		{
			// ip saddr 10.0.0.1/8: compares bits the mask clears
			name: "prefix-host-bits",
			exprs: cat(nf(unix.NFPROTO_IPV4), saddr4,
				&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: []byte{0xff, 0, 0, 0}, Xor: []byte{0, 0, 0, 0}},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{10, 0, 0, 1}}),
			want: []ruleset.Stmt{
				ruleset.NFProto{Family: ruleset.IPv4},
				raw("[payload load 4b @ network header + 12 => reg 1]"),
				raw("[bitwise reg 1 = ( reg 1 & 0xff000000 ) ^ 0x00000000]"),
				raw("[cmp eq reg 1 0x0a000001]"),
			},
		},
		{
			// ip saddr 10.0.0.0/8 written with a mask: same meaning as nft's form
			name: "prefix-masked-whole-bytes",
			exprs: cat(nf(unix.NFPROTO_IPV4), saddr4,
				&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: []byte{0xff, 0, 0, 0}, Xor: []byte{0, 0, 0, 0}},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{10, 0, 0, 0}}),
			want: []ruleset.Stmt{ruleset.SAddrPrefix{Prefix: netip.MustParsePrefix("10.0.0.0/8")}},
		},
		{
			// ct state with a bit nft has no name for
			name: "ct-state-unknown-bit",
			exprs: cat(&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
				&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: ctStateMask(0x10), Xor: []byte{0, 0, 0, 0}},
				&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0, 0, 0, 0}}),
			want: []ruleset.Stmt{
				raw("[ct load state => reg 1]"),
				raw("[bitwise reg 1 = ( reg 1 & 0x" + hexOf(ctStateMask(0x10)) + " ) ^ 0x00000000]"),
				raw("[cmp neq reg 1 0x00000000]"),
			},
		},
		{
			// iifname "eth*" written with a NUL: an exact match on "eth"
			name: "iifname-short-exact",
			exprs: cat(&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte("eth\x00")}),
			want: []ruleset.Stmt{raw("[meta load iifname => reg 1]"), raw("[cmp eq reg 1 0x65746800]")},
		},
		{
			// reject with icmp port-unreachable
			name:  "reject-icmp",
			exprs: cat(&expr.Reject{Type: unix.NFT_REJECT_ICMP_UNREACH, Code: 3}),
			want:  []ruleset.Stmt{raw("[reject type 0 code 3]")},
		},
		{
			// reject with tcp reset, without meta l4proto tcp
			name:  "reset-without-tcp",
			exprs: cat(&expr.Reject{Type: unix.NFT_REJECT_TCP_RST}),
			want:  []ruleset.Stmt{raw("[reject type 1 code 0]")},
		},
		{
			// log prefix "x" (to the kernel log, not NFLOG)
			name:  "log-without-group",
			exprs: cat(&expr.Log{Key: 1 << unix.NFTA_LOG_PREFIX, Data: []byte("x")}),
			want:  []ruleset.Stmt{raw(`[log prefix "x"]`)},
		},
		{
			// log prefix "x" group 1 snaplen 64
			name:  "log-snaplen",
			exprs: cat(&expr.Log{Key: 1<<unix.NFTA_LOG_PREFIX | 1<<unix.NFTA_LOG_GROUP | 1<<unix.NFTA_LOG_SNAPLEN, Data: []byte("x"), Group: 1, Snaplen: 64}),
			want:  []ruleset.Stmt{raw(`[log prefix "x" group 1 snaplen 64]`)},
		},
		{
			// continue
			name:  "verdict-continue",
			exprs: cat(&expr.Verdict{Kind: expr.VerdictContinue}),
			want:  []ruleset.Stmt{raw("[immediate reg 0 continue]")},
		},
		{
			// limit rate 10/second
			name:  "limit",
			exprs: cat(&expr.Limit{Type: expr.LimitTypePkts, Rate: 10, Unit: expr.LimitTimeSecond, Burst: 5}),
			want:  []ruleset.Stmt{raw("[limit {Type:0 Rate:10 Over:false Unit:1 Burst:5}]")},
		},
		{
			name:  "nil",
			exprs: []expr.Any{nil},
			want:  []ruleset.Stmt{raw("[nil]")},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := ParseRule(tc.exprs, nil)
			want := &ruleset.Rule{Stmts: tc.want}
			if diff := cmp.Diff(want, got, modelCmp); diff != "" {
				t.Errorf("ParseRule(%s) mismatch (-want +got):\n%s", tc.name, diff)
			}
			// Deterministic: the same text on every read.
			if again := ParseRule(tc.exprs, nil); !cmp.Equal(got, again, modelCmp) {
				t.Errorf("ParseRule(%s) = %q, then %q", tc.name, got, again)
			}
		})
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&0xf])
	}
	return string(out)
}

func TestParseRuleComment(t *testing.T) {
	cases := []struct {
		name string
		ud   []byte
		want string
	}{
		{"none", nil, ""},
		{"comment", []byte("\x00\x09door=ssh\x00"), "door=ssh"},
		{"after-other-tlv", []byte("\x01\x02ab\x00\x04abc\x00"), "abc"},
		{"truncated", []byte("\x00\x09door"), ""},
		{"short", []byte("\x00"), ""},
		{"no-comment", []byte("\x01\x01x"), ""},
	}
	for _, tc := range cases {
		if got := ParseRule(nil, tc.ud); got.Comment != tc.want || got.Stmts != nil {
			t.Errorf("ParseRule(nil, %q) = %+v, want comment %q and no statements", tc.ud, got, tc.want)
		}
	}
}

func TestParseSet(t *testing.T) {
	cases := []struct {
		name string
		set  *nftables.Set
		want *ruleset.Set
	}{
		{
			name: "v4",
			set: &nftables.Set{Name: "step1_v4", KeyType: nftables.TypeIPAddr, Dynamic: true, HasTimeout: true,
				Timeout: 10 * time.Second, Size: 1024, Comment: "door=ssh"},
			want: &ruleset.Set{Name: "step1_v4", Family: ruleset.IPv4, Timeout: 10 * time.Second, Size: 1024},
		},
		{
			name: "v6",
			set:  &nftables.Set{Name: "open_v6", KeyType: nftables.TypeIP6Addr, Dynamic: true, HasTimeout: true},
			want: &ruleset.Set{Name: "open_v6", Family: ruleset.IPv6},
		},
		{
			name: "other-key",
			set:  &nftables.Set{Name: "ports", KeyType: nftables.TypeInetService, Dynamic: true, HasTimeout: true},
			want: &ruleset.Set{Name: "ports"},
		},
		{
			name: "no-timeout-flag",
			set:  &nftables.Set{Name: "s", KeyType: nftables.TypeIPAddr, Dynamic: true},
			want: &ruleset.Set{Name: "s"},
		},
		{
			name: "interval",
			set:  &nftables.Set{Name: "s", KeyType: nftables.TypeIPAddr, Dynamic: true, HasTimeout: true, Interval: true},
			want: &ruleset.Set{Name: "s"},
		},
	}
	for _, tc := range cases {
		if diff := cmp.Diff(tc.want, ParseSet(tc.set)); diff != "" {
			t.Errorf("ParseSet(%s) mismatch (-want +got):\n%s", tc.name, diff)
		}
	}
	// What SetObj writes, ParseSet reads back.
	for _, s := range []*ruleset.Set{cases[0].want, cases[1].want} {
		if diff := cmp.Diff(s, ParseSet(SetObj(nil, s))); diff != "" {
			t.Errorf("ParseSet(SetObj(%s)) mismatch (-want +got):\n%s", s.Name, diff)
		}
	}
}

func TestParseChain(t *testing.T) {
	policy := func(p nftables.ChainPolicy) *nftables.ChainPolicy { return &p }
	cases := []struct {
		name  string
		chain *nftables.Chain
		want  *ruleset.Chain
	}{
		{
			name: "base",
			chain: &nftables.Chain{Name: "input", Type: nftables.ChainTypeFilter, Hooknum: nftables.ChainHookInput,
				Priority: nftables.ChainPriorityMangle, Policy: policy(nftables.ChainPolicyAccept)},
			want: &ruleset.Chain{Name: "input", Hook: &ruleset.Hook{Type: "filter", Hook: "input", Priority: -150, Policy: "accept"}},
		},
		{
			name: "drop",
			chain: &nftables.Chain{Name: "pre", Type: nftables.ChainTypeFilter, Hooknum: nftables.ChainHookPrerouting,
				Priority: nftables.ChainPriorityRef(7), Policy: policy(nftables.ChainPolicyDrop)},
			want: &ruleset.Chain{Name: "pre", Hook: &ruleset.Hook{Type: "filter", Hook: "prerouting", Priority: 7, Policy: "drop"}},
		},
		{
			name:  "postrouting-no-policy",
			chain: &nftables.Chain{Name: "post", Type: nftables.ChainTypeNAT, Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource},
			want:  &ruleset.Chain{Name: "post", Hook: &ruleset.Hook{Type: "nat", Hook: "postrouting", Priority: 100, Policy: "accept"}},
		},
		{
			name:  "unknown-hook",
			chain: &nftables.Chain{Name: "x", Type: nftables.ChainTypeFilter, Hooknum: nftables.ChainHookRef(9), Priority: nftables.ChainPriorityFilter},
			want:  &ruleset.Chain{Name: "x", Hook: &ruleset.Hook{Type: "filter", Hook: "hook-9", Policy: "accept"}},
		},
		{
			name:  "regular",
			chain: &nftables.Chain{Name: "knock"},
			want:  &ruleset.Chain{Name: "knock"},
		},
	}
	for _, tc := range cases {
		if diff := cmp.Diff(tc.want, ParseChain(tc.chain)); diff != "" {
			t.Errorf("ParseChain(%s) mismatch (-want +got):\n%s", tc.name, diff)
		}
	}
	// What ChainObj writes, ParseChain reads back.
	for _, tc := range cases[:3] {
		ch, err := ChainObj(nil, tc.want)
		if err != nil {
			t.Fatalf("ChainObj(%s) = %v", tc.want.Name, err)
		}
		if diff := cmp.Diff(tc.want, ParseChain(ch)); diff != "" {
			t.Errorf("ParseChain(ChainObj(%s)) mismatch (-want +got):\n%s", tc.want.Name, diff)
		}
	}
}

func TestParseElement(t *testing.T) {
	cases := []struct {
		family ruleset.Family
		elem   nftables.SetElement
		want   ruleset.Element
	}{
		{ruleset.IPv4, nftables.SetElement{Key: []byte{192, 0, 2, 7}, Expires: 9 * time.Second},
			ruleset.Element{Addr: netip.MustParseAddr("192.0.2.7"), Expires: 9 * time.Second}},
		{ruleset.IPv6, nftables.SetElement{Key: netip.MustParseAddr("2001:db8::7").AsSlice(), Expires: time.Minute},
			ruleset.Element{Addr: netip.MustParseAddr("2001:db8::7"), Expires: time.Minute}},
		{ruleset.IPv6, nftables.SetElement{Key: netip.MustParseAddr("::ffff:192.0.2.7").AsSlice()},
			ruleset.Element{Addr: netip.MustParseAddr("::ffff:192.0.2.7")}},
		{ruleset.IPv4, nftables.SetElement{Key: netip.MustParseAddr("2001:db8::7").AsSlice(), Expires: time.Second},
			ruleset.Element{Expires: time.Second}},
		{ruleset.IPv6, nftables.SetElement{Key: []byte{192, 0, 2, 7}}, ruleset.Element{}},
	}
	for _, tc := range cases {
		if got := ParseElement(tc.family, tc.elem); !cmp.Equal(got, tc.want, modelCmp) {
			t.Errorf("ParseElement(%s, %x) = %v %v, want %v %v", tc.family, tc.elem.Key, got.Addr, got.Expires, tc.want.Addr, tc.want.Expires)
		}
	}
}
