package nftkernel

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/knockc/knockc/ruleset"
)

// convertCase is a rule and the expressions nft 1.0.6 generates for its
// rendered text (from `nft --debug=netlink`).
type convertCase struct {
	name string
	rule *ruleset.Rule
	want []expr.Any
}

func ruleOf(stmts ...ruleset.Stmt) *ruleset.Rule { return &ruleset.Rule{Stmts: stmts} }

// ctStateMask is a ct state mask as the kernel wants it: host byte order.
func ctStateMask(bits uint32) []byte { return binaryutil.NativeEndian.PutUint32(bits) }

var convertCases = append([]convertCase{
	{
		// ct state established,related accept
		name: "ct-state",
		rule: ruleOf(ruleset.CTState{States: []string{"established", "related"}}, ruleset.Verdict{Kind: "accept"}),
		want: []expr.Any{
			&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: ctStateMask(0x06), Xor: []byte{0, 0, 0, 0}},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0, 0, 0, 0}},
			&expr.Verdict{Kind: expr.VerdictAccept},
		},
	},
	{
		// ct state invalid,new,untracked drop
		name: "ct-state-other-bits",
		rule: ruleOf(ruleset.CTState{States: []string{"invalid", "new", "untracked"}}, ruleset.Verdict{Kind: "drop"}),
		want: []expr.Any{
			&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: ctStateMask(0x49), Xor: []byte{0, 0, 0, 0}},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0, 0, 0, 0}},
			&expr.Verdict{Kind: expr.VerdictDrop},
		},
	},
	{
		// iifname "lo" accept
		name: "iifname",
		rule: ruleOf(ruleset.IIFName{Name: "lo"}, ruleset.Verdict{Kind: "accept"}),
		want: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte("lo\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")},
			&expr.Verdict{Kind: expr.VerdictAccept},
		},
	},
	{
		// iifname "eth*" drop
		name: "iifname-prefix",
		rule: ruleOf(ruleset.IIFName{Name: "eth*"}, ruleset.Verdict{Kind: "drop"}),
		want: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte("eth")},
			&expr.Verdict{Kind: expr.VerdictDrop},
		},
	},
	{
		// iifname "abcdefghijklmno"
		name: "iifname-longest",
		rule: ruleOf(ruleset.IIFName{Name: "abcdefghijklmno"}),
		want: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte("abcdefghijklmno\x00")},
		},
	},
	{
		// tcp dport 9000
		name: "tcp-dport",
		rule: ruleOf(ruleset.DPort{Proto: ruleset.TCP, Port: 9000}),
		want: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{6}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0x23, 0x28}},
		},
	},
	{
		// udp dport 7000 drop
		name: "udp-dport",
		rule: ruleOf(ruleset.DPort{Proto: ruleset.UDP, Port: 7000}, ruleset.Verdict{Kind: "drop"}),
		want: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{17}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0x1b, 0x58}},
			&expr.Verdict{Kind: expr.VerdictDrop},
		},
	},
	{
		// meta l4proto udp
		name: "l4proto",
		rule: ruleOf(ruleset.L4Proto{Proto: ruleset.UDP}),
		want: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{17}},
		},
	},
	{
		// meta l4proto tcp meta l4proto tcp (an explicit match is always emitted)
		name: "l4proto-twice",
		rule: ruleOf(ruleset.L4Proto{Proto: ruleset.TCP}, ruleset.L4Proto{Proto: ruleset.TCP}),
		want: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{6}},
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{6}},
		},
	},
	{
		// tcp dport 22 meta l4proto tcp
		name: "l4proto-after-dport",
		rule: ruleOf(ruleset.DPort{Proto: ruleset.TCP, Port: 22}, ruleset.L4Proto{Proto: ruleset.TCP}),
		want: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{6}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0, 22}},
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{6}},
		},
	},
	{
		// tcp flags syn / fin,syn,rst,ack
		name: "tcp-flags",
		rule: ruleOf(ruleset.TCPFlags{Flags: 0x02, Mask: 0x17}),
		want: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{6}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 13, Len: 1},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 1, Mask: []byte{0x17}, Xor: []byte{0}},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0x02}},
		},
	},
	{
		// tcp dport 9000 tcp flags syn / fin,syn,rst,ack (one l4proto dependency)
		name: "dport-and-flags-share-dependency",
		rule: ruleOf(ruleset.DPort{Proto: ruleset.TCP, Port: 9000}, ruleset.TCPFlags{Flags: 0x02, Mask: 0x17}),
		want: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{6}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0x23, 0x28}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 13, Len: 1},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 1, Mask: []byte{0x17}, Xor: []byte{0}},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0x02}},
		},
	},
	{
		// ip saddr @knock_v4 drop
		name: "saddr-in-v4",
		rule: ruleOf(ruleset.SAddrIn{Family: ruleset.IPv4, Set: "knock_v4"}, ruleset.Verdict{Kind: "drop"}),
		want: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{2}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
			&expr.Lookup{SourceRegister: 1, SetName: "knock_v4"},
			&expr.Verdict{Kind: expr.VerdictDrop},
		},
	},
	{
		// ip6 saddr @knock_v6
		name: "saddr-in-v6",
		rule: ruleOf(ruleset.SAddrIn{Family: ruleset.IPv6, Set: "knock_v6"}),
		want: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{10}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 8, Len: 16},
			&expr.Lookup{SourceRegister: 1, SetName: "knock_v6"},
		},
	},
	{
		// ip saddr != @knock_v4
		name: "saddr-not-in",
		rule: ruleOf(ruleset.SAddrIn{Family: ruleset.IPv4, Set: "knock_v4", Not: true}),
		want: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{2}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
			&expr.Lookup{SourceRegister: 1, SetName: "knock_v4", Invert: true},
		},
	},
	{
		// ip saddr @step1 ip saddr != @step2 update @step1 { ip saddr } (one nfproto dependency)
		name: "saddr-statements-share-dependency",
		rule: ruleOf(
			ruleset.SAddrIn{Family: ruleset.IPv4, Set: "step1"},
			ruleset.SAddrIn{Family: ruleset.IPv4, Set: "step2", Not: true},
			ruleset.SetSAddr{Op: ruleset.OpUpdate, Set: "step1", Family: ruleset.IPv4},
		),
		want: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{2}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
			&expr.Lookup{SourceRegister: 1, SetName: "step1"},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
			&expr.Lookup{SourceRegister: 1, SetName: "step2", Invert: true},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
			&expr.Dynset{SrcRegKey: 1, SetName: "step1", Operation: unix.NFT_DYNSET_OP_UPDATE},
		},
	},
	{
		// ip saddr 203.0.113.0/24
		name: "prefix-v4-whole-bytes",
		rule: ruleOf(ruleset.SAddrPrefix{Prefix: netip.MustParsePrefix("203.0.113.0/24")}),
		want: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{2}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 3},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{203, 0, 113}},
		},
	},
	{
		// ip saddr 203.0.112.0/22 (nft 1.0.6 loads all 4 bytes and masks)
		name: "prefix-v4-masked",
		rule: ruleOf(ruleset.SAddrPrefix{Prefix: netip.MustParsePrefix("203.0.112.0/22")}),
		want: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{2}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: []byte{0xff, 0xff, 0xfc, 0x00}, Xor: []byte{0, 0, 0, 0}},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{203, 0, 112, 0}},
		},
	},
	{
		// ip saddr 10.1.2.3
		name: "prefix-v4-host",
		rule: ruleOf(ruleset.SAddrPrefix{Prefix: netip.MustParsePrefix("10.1.2.3/32")}),
		want: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{2}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{10, 1, 2, 3}},
		},
	},
	{
		// ip saddr 0.0.0.0/0
		name: "prefix-v4-any",
		rule: ruleOf(ruleset.SAddrPrefix{Prefix: netip.MustParsePrefix("0.0.0.0/0")}),
		want: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{2}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: []byte{0, 0, 0, 0}, Xor: []byte{0, 0, 0, 0}},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0, 0, 0, 0}},
		},
	},
	{
		// ip6 saddr 2001:db8::/32
		name: "prefix-v6-whole-bytes",
		rule: ruleOf(ruleset.SAddrPrefix{Prefix: netip.MustParsePrefix("2001:db8::/32")}),
		want: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{10}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 8, Len: 4},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0x20, 0x01, 0x0d, 0xb8}},
		},
	},
	{
		// ip6 saddr 2001:db8:8000::/33 (nft 1.0.6 loads all 16 bytes and masks)
		name: "prefix-v6-masked",
		rule: ruleOf(ruleset.SAddrPrefix{Prefix: netip.MustParsePrefix("2001:db8:8000::/33")}),
		want: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{10}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 8, Len: 16},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 16,
				Mask: []byte{0xff, 0xff, 0xff, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
				Xor:  make([]byte, 16)},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0x20, 0x01, 0x0d, 0xb8, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
		},
	},
	{
		// ip6 saddr 2001:db8::1
		name: "prefix-v6-host",
		rule: ruleOf(ruleset.SAddrPrefix{Prefix: netip.MustParsePrefix("2001:db8::1/128")}),
		want: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{10}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 8, Len: 16},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}},
		},
	},
	{
		// add @step1 { ip saddr }
		name: "dynset-add",
		rule: ruleOf(ruleset.SetSAddr{Op: ruleset.OpAdd, Set: "step1", Family: ruleset.IPv4}),
		want: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{2}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
			&expr.Dynset{SrcRegKey: 1, SetName: "step1", Operation: unix.NFT_DYNSET_OP_ADD},
		},
	},
	{
		// delete @open_v6 { ip6 saddr }
		name: "dynset-delete-v6",
		rule: ruleOf(ruleset.SetSAddr{Op: ruleset.OpDelete, Set: "open_v6", Family: ruleset.IPv6}),
		want: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{10}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 8, Len: 16},
			&expr.Dynset{SrcRegKey: 1, SetName: "open_v6", Operation: opDelete},
		},
	},
	{
		// log prefix "knockc open ssh" group 4242
		name: "log",
		rule: ruleOf(ruleset.Log{Prefix: "knockc open ssh", Group: 4242}),
		want: []expr.Any{
			&expr.Log{Key: 1<<unix.NFTA_LOG_GROUP | 1<<unix.NFTA_LOG_PREFIX, Group: 4242, Data: []byte("knockc open ssh")},
		},
	},
	{
		// return
		name: "return",
		rule: ruleOf(ruleset.Verdict{Kind: "return"}),
		want: []expr.Any{&expr.Verdict{Kind: expr.VerdictReturn}},
	},
	{
		// jump knock
		name: "jump",
		rule: ruleOf(ruleset.Verdict{Kind: "jump", Chain: "knock"}),
		want: []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: "knock"}},
	},
	{
		// goto guard
		name: "goto",
		rule: ruleOf(ruleset.Verdict{Kind: "goto", Chain: "guard"}),
		want: []expr.Any{&expr.Verdict{Kind: expr.VerdictGoto, Chain: "guard"}},
	},
	{
		// reject
		name: "reject",
		rule: ruleOf(ruleset.Reject{}),
		want: []expr.Any{&expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_PORT_UNREACH}},
	},
	{
		// tcp dport 22 reject with tcp reset
		name: "reject-tcp-reset",
		rule: ruleOf(ruleset.DPort{Proto: ruleset.TCP, Port: 22}, ruleset.Reject{TCPReset: true}),
		want: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{6}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0, 22}},
			&expr.Reject{Type: unix.NFT_REJECT_TCP_RST},
		},
	},
	{
		// meta l4proto tcp reject with tcp reset
		name: "reject-tcp-reset-after-l4proto",
		rule: ruleOf(ruleset.L4Proto{Proto: ruleset.TCP}, ruleset.Reject{TCPReset: true}),
		want: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{6}},
			&expr.Reject{Type: unix.NFT_REJECT_TCP_RST},
		},
	},
	{
		// ip saddr @open_v4 tcp dport 22 log prefix "knockc ssh open" group 4242 accept comment "door=ssh role=open"
		name: "full-rule",
		rule: &ruleset.Rule{
			Stmts: []ruleset.Stmt{
				ruleset.SAddrIn{Family: ruleset.IPv4, Set: "open_v4"},
				ruleset.DPort{Proto: ruleset.TCP, Port: 22},
				ruleset.Log{Prefix: "knockc ssh open", Group: 4242},
				ruleset.Verdict{Kind: "accept"},
			},
			Comment: "door=ssh role=open",
		},
		want: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{2}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
			&expr.Lookup{SourceRegister: 1, SetName: "open_v4"},
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{6}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0, 22}},
			&expr.Log{Key: 1<<unix.NFTA_LOG_GROUP | 1<<unix.NFTA_LOG_PREFIX, Group: 4242, Data: []byte("knockc ssh open")},
			&expr.Verdict{Kind: expr.VerdictAccept},
		},
	},
}, tcpFlagsCases...)

func TestRuleExprs(t *testing.T) {
	for _, tc := range convertCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RuleExprs(tc.rule)
			if err != nil {
				t.Fatalf("RuleExprs(%q) = %v, want nil error", tc.rule, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("RuleExprs(%q) mismatch (-want +got):\n%s", tc.rule, diff)
			}
			for _, e := range got {
				if _, err := expr.Marshal(byte(nftables.TableFamilyINet), e); err != nil {
					t.Errorf("expr.Marshal(%s) = %v, want nil error", dump(e), err)
				}
			}
		})
	}
}

func TestRuleExprsErrors(t *testing.T) {
	tcp22 := ruleset.DPort{Proto: ruleset.TCP, Port: 22}
	cases := []struct {
		name string
		rule *ruleset.Rule
		want string // in the error
	}{
		{"raw", ruleOf(ruleset.Raw{Text: "counter"}, ruleset.Verdict{Kind: "accept"}), "raw statement cannot be sent to the kernel"},
		{"ct-state-empty", ruleOf(ruleset.CTState{}), "no states"},
		{"ct-state-unknown", ruleOf(ruleset.CTState{States: []string{"snat"}}), `unknown state "snat"`},
		{"ct-state-order", ruleOf(ruleset.CTState{States: []string{"related", "established"}}), "out of nft's order"},
		{"ct-state-repeated", ruleOf(ruleset.CTState{States: []string{"new", "new"}}), "repeated"},
		{"iifname-empty", ruleOf(ruleset.IIFName{}), "empty interface name"},
		{"iifname-star", ruleOf(ruleset.IIFName{Name: "*"}), "empty interface name"},
		{"iifname-long", ruleOf(ruleset.IIFName{Name: "abcdefghijklmnop"}), "longer than 15"},
		{"iifname-quote", ruleOf(ruleset.IIFName{Name: `a"b`}), "unquoted"},
		{"l4proto-icmp", ruleOf(ruleset.L4Proto{Proto: 1}), "unsupported protocol 1"},
		{"dport-sctp", ruleOf(ruleset.DPort{Proto: 132, Port: 1}), "unsupported protocol 132"},
		{"l4proto-before-dport", ruleOf(ruleset.L4Proto{Proto: ruleset.TCP}, tcp22), "part of the later"},
		{"l4proto-before-later-dport", ruleOf(ruleset.L4Proto{Proto: ruleset.UDP}, ruleset.SAddrIn{Family: ruleset.IPv4, Set: "s"}, ruleset.DPort{Proto: ruleset.UDP, Port: 53}), "part of the later"},
		{"l4proto-before-flags", ruleOf(ruleset.L4Proto{Proto: ruleset.TCP}, ruleset.TCPFlags{Flags: 2, Mask: 0x17}), "part of the later"},
		{"tcp-then-udp", ruleOf(tcp22, ruleset.DPort{Proto: ruleset.UDP, Port: 53}), "conflicting protocols tcp and udp"},
		{"udp-then-flags", ruleOf(ruleset.L4Proto{Proto: ruleset.UDP}, ruleset.TCPFlags{Flags: 2, Mask: 0x17}), "conflicting protocols udp and tcp"},
		{"flags-empty-mask", ruleOf(ruleset.TCPFlags{}), "empty mask"},
		{"flags-outside-mask", ruleOf(ruleset.TCPFlags{Flags: 0x08, Mask: 0x17}), "outside the mask"},
		{"saddr-family", ruleOf(ruleset.SAddrIn{Family: 0, Set: "s"}), "unknown family 0"},
		{"saddr-no-set", ruleOf(ruleset.SAddrIn{Family: ruleset.IPv4}), "empty set name"},
		{"saddr-mixed-families", ruleOf(ruleset.SAddrIn{Family: ruleset.IPv4, Set: "a"}, ruleset.SAddrIn{Family: ruleset.IPv6, Set: "b"}), "conflicting protocols ipv4 and ipv6"},
		{"prefix-invalid", ruleOf(ruleset.SAddrPrefix{}), "invalid prefix"},
		{"prefix-host-bits", ruleOf(ruleset.SAddrPrefix{Prefix: netip.MustParsePrefix("10.1.2.3/24")}), "host bits"},
		{"setop-unknown", ruleOf(ruleset.SetSAddr{Op: 7, Set: "s", Family: ruleset.IPv4}), "set operation 7"},
		{"setop-no-set", ruleOf(ruleset.SetSAddr{Op: ruleset.OpAdd, Family: ruleset.IPv4}), "empty set name"},
		{"log-long-prefix", ruleOf(ruleset.Log{Prefix: strings.Repeat("x", 128)}), "longer than 127"},
		{"log-quote", ruleOf(ruleset.Log{Prefix: `say "hi"`}), "unquoted"},
		{"verdict-unknown", ruleOf(ruleset.Verdict{Kind: "continue"}), `verdict "continue": unknown`},
		{"jump-no-chain", ruleOf(ruleset.Verdict{Kind: "jump"}), "needs a chain"},
		{"accept-chain", ruleOf(ruleset.Verdict{Kind: "accept", Chain: "x"}), "takes no chain"},
		{"reset-bare", ruleOf(ruleset.Reject{TCPReset: true}), "needs a tcp match"},
		{"reset-after-udp", ruleOf(ruleset.DPort{Proto: ruleset.UDP, Port: 53}, ruleset.Reject{TCPReset: true}), "needs a tcp match"},
		{"comment-long", &ruleset.Rule{Stmts: []ruleset.Stmt{ruleset.Verdict{Kind: "drop"}}, Comment: strings.Repeat("c", 129)}, "comment longer than 128"},
		{"comment-newline", &ruleset.Rule{Comment: "a\nb"}, "unquoted"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RuleExprs(tc.rule)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("RuleExprs(%q) = %v, %v, want error containing %q", tc.rule, got, err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "rule ") {
				t.Errorf("RuleExprs(%q) error = %q, want it to start with the rule", tc.rule, err)
			}
		})
	}
}

func TestRuleExprsRawIsErrRawStatement(t *testing.T) {
	r := ruleOf(ruleset.Raw{Text: "[counter]"})
	_, err := RuleExprs(r)
	if !errors.Is(err, ErrRawStatement) {
		t.Errorf("RuleExprs(%q) = %v, want an error wrapping ErrRawStatement", r, err)
	}
	if want := `rule "[counter]": raw statement cannot be sent to the kernel`; err == nil || err.Error() != want {
		t.Errorf("RuleExprs(%q) = %v, want %s", r, err, want)
	}
}

func TestRuleUserData(t *testing.T) {
	cases := []struct {
		comment string
		want    []byte
	}{
		{"door=ssh", []byte("\x00\x09door=ssh\x00")},
		{"", nil},
		{strings.Repeat("c", 300), append(append([]byte{0, 254}, strings.Repeat("c", 253)...), 0)},
	}
	for _, tc := range cases {
		if got := RuleUserData(tc.comment); !cmp.Equal(got, tc.want) {
			t.Errorf("RuleUserData(%q) = %q, want %q", tc.comment, got, tc.want)
		}
	}
}

func TestTableObj(t *testing.T) {
	got := TableObj(&ruleset.Table{Name: "knockc"})
	want := &nftables.Table{Name: "knockc", Family: nftables.TableFamilyINet}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("TableObj(knockc) mismatch (-want +got):\n%s", diff)
	}
}

func TestSetObj(t *testing.T) {
	tbl := &nftables.Table{Name: "knockc", Family: nftables.TableFamilyINet}
	cases := []struct {
		set  *ruleset.Set
		want *nftables.Set
	}{
		{
			&ruleset.Set{Name: "step1_v4", Family: ruleset.IPv4, Timeout: 10 * time.Second, Size: 1024},
			&nftables.Set{Table: tbl, Name: "step1_v4", KeyType: nftables.TypeIPAddr, KeyByteOrder: binaryutil.BigEndian,
				Dynamic: true, HasTimeout: true, Timeout: 10 * time.Second, Size: 1024},
		},
		{
			&ruleset.Set{Name: "open_v6", Family: ruleset.IPv6},
			&nftables.Set{Table: tbl, Name: "open_v6", KeyType: nftables.TypeIP6Addr, KeyByteOrder: binaryutil.BigEndian,
				Dynamic: true, HasTimeout: true},
		},
	}
	for _, tc := range cases {
		got := SetObj(tbl, tc.set)
		if diff := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b nftables.SetDatatype) bool {
			return a.Name == b.Name && a.Bytes == b.Bytes && a.GetNFTMagic() == b.GetNFTMagic()
		})); diff != "" {
			t.Errorf("SetObj(%s) mismatch (-want +got):\n%s", tc.set.Name, diff)
		}
	}
}

func TestChainObj(t *testing.T) {
	tbl := &nftables.Table{Name: "knockc", Family: nftables.TableFamilyINet}
	got, err := ChainObj(tbl, &ruleset.Chain{Name: "input",
		Hook: &ruleset.Hook{Type: "filter", Hook: "input", Priority: -150, Policy: "drop"}})
	want := &nftables.Chain{Name: "input", Table: tbl, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityMangle,
		Policy: func() *nftables.ChainPolicy { p := nftables.ChainPolicyDrop; return &p }()}
	if err != nil {
		t.Fatalf("ChainObj(input) = %v, want nil error", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ChainObj(input) mismatch (-want +got):\n%s", diff)
	}

	got, err = ChainObj(tbl, &ruleset.Chain{Name: "knock"})
	if err != nil {
		t.Fatalf("ChainObj(knock) = %v, want nil error", err)
	}
	if diff := cmp.Diff(&nftables.Chain{Name: "knock", Table: tbl}, got); diff != "" {
		t.Errorf("ChainObj(knock) mismatch (-want +got):\n%s", diff)
	}

	bad := []struct {
		hook ruleset.Hook
		want string
	}{
		{ruleset.Hook{Type: "mangle", Hook: "input", Policy: "accept"}, `unknown chain type "mangle"`},
		{ruleset.Hook{Type: "filter", Hook: "ingress", Policy: "accept"}, `unknown hook "ingress"`},
		{ruleset.Hook{Type: "filter", Hook: "input", Policy: "reject"}, `unknown policy "reject"`},
		{ruleset.Hook{Type: "filter", Hook: "input", Policy: "accept", Priority: 1 << 40}, "out of range"},
	}
	for _, tc := range bad {
		got, err := ChainObj(tbl, &ruleset.Chain{Name: "c", Hook: &tc.hook})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), `chain "c": `) {
			t.Errorf("ChainObj(%s) = %v, %v, want error containing %q", &tc.hook, got, err, tc.want)
		}
	}
}
