package nftkernel

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/nftables/expr"

	"github.com/knockc/knockc/ruleset"
)

// stealthCases are the stealth chains' statements and the expressions
// nft 1.0.6 generates for their text (`nft --debug=netlink`).
var stealthCases = []convertCase{
	{
		// tcp dport 22 redirect to :0
		name: "redirect",
		rule: ruleOf(ruleset.DPort{Proto: ruleset.TCP, Port: 22}, ruleset.Redirect{Port: 0}),
		want: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{6}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0, 22}},
			&expr.Immediate{Register: 1, Data: []byte{0, 0}},
			&expr.Redir{RegisterProtoMin: 1, Flags: 2},
		},
	},
	{
		// tcp dport 22 ct state invalid,untracked tcp flags ! rst update @s_v4 { ip saddr } tcp dport set 0 return
		name: "invalid-to-answer-port",
		rule: ruleOf(
			ruleset.DPort{Proto: ruleset.TCP, Port: 22},
			ruleset.CTState{States: []string{"invalid", "untracked"}},
			ruleset.TCPFlags{Flags: 0, Mask: 0x04},
			ruleset.SetSAddr{Op: ruleset.OpUpdate, Set: "s_v4", Family: ruleset.IPv4},
			ruleset.SetPort{Port: 0},
			ruleset.Verdict{Kind: "return"}),
		want: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{6}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0, 22}},
			&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: ctStateMask(0x41), Xor: []byte{0, 0, 0, 0}},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0, 0, 0, 0}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 13, Len: 1},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 1, Mask: []byte{0x04}, Xor: []byte{0}},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0}},
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{2}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
			&expr.Dynset{SrcRegKey: 1, SetName: "s_v4", Operation: 1},
			&expr.Immediate{Register: 1, Data: []byte{0, 0}},
			&expr.Payload{OperationType: expr.PayloadWrite, SourceRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2, CsumType: expr.CsumTypeInet, CsumOffset: 16},
			&expr.Verdict{Kind: expr.VerdictReturn},
		},
	},
	{
		// tcp sport 0 ct state invalid,untracked ip6 daddr @s_v6 delete @s_v6 { ip6 daddr } tcp sport set 22 return
		name: "answer-back",
		rule: ruleOf(
			ruleset.SPort{Proto: ruleset.TCP, Port: 0},
			ruleset.CTState{States: []string{"invalid", "untracked"}},
			ruleset.DAddrIn{Family: ruleset.IPv6, Set: "s_v6"},
			ruleset.SetDAddr{Op: ruleset.OpDelete, Set: "s_v6", Family: ruleset.IPv6},
			ruleset.SetPort{Source: true, Port: 22},
			ruleset.Verdict{Kind: "return"}),
		want: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{6}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0, 0}},
			&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: ctStateMask(0x41), Xor: []byte{0, 0, 0, 0}},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0, 0, 0, 0}},
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{10}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 24, Len: 16},
			&expr.Lookup{SourceRegister: 1, SetName: "s_v6"},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 24, Len: 16},
			&expr.Dynset{SrcRegKey: 1, SetName: "s_v6", Operation: opDelete},
			&expr.Immediate{Register: 1, Data: []byte{0, 22}},
			&expr.Payload{OperationType: expr.PayloadWrite, SourceRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 2, CsumType: expr.CsumTypeInet, CsumOffset: 16},
			&expr.Verdict{Kind: expr.VerdictReturn},
		},
	},
	{
		// udp dport 4500 ip saddr @g_v4 meta mark set 0x00000010 return
		name: "grant-mark",
		rule: ruleOf(
			ruleset.DPort{Proto: ruleset.UDP, Port: 4500},
			ruleset.SAddrIn{Family: ruleset.IPv4, Set: "g_v4"},
			ruleset.MarkSet{Mark: 0x10},
			ruleset.Verdict{Kind: "return"}),
		want: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{17}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0x11, 0x94}},
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{2}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
			&expr.Lookup{SourceRegister: 1, SetName: "g_v4"},
			&expr.Immediate{Register: 1, Data: ctStateMask(0x10)}, // host byte order, as nft sends it
			&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1},
			&expr.Verdict{Kind: expr.VerdictReturn},
		},
	},
}

func TestRuleExprsStealth(t *testing.T) {
	for _, tc := range stealthCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RuleExprs(tc.rule)
			if err != nil {
				t.Fatalf("RuleExprs(%q) = %v, want nil error", tc.rule, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("RuleExprs(%q) mismatch (-want +got):\n%s", tc.rule, diff)
			}
			// Back from the expressions, and from their netlink encoding.
			if back := ParseRule(got, nil); !cmp.Equal(tc.rule, back, modelCmp) {
				t.Errorf("ParseRule(RuleExprs(%q)) = %q", tc.rule, back)
			}
			var dec []expr.Any
			for _, e := range got {
				dec = append(dec, decoded(t, e))
			}
			if back := ParseRule(dec, nil); !cmp.Equal(tc.rule, back, modelCmp) {
				t.Errorf("ParseRule(decoded RuleExprs(%q)) = %q", tc.rule, back)
			}
		})
	}
}

// TestParseImmediateFourBytes: a port an immediate holds padded to a
// register's four bytes (as other tools write it) reads the same.
func TestParseImmediateFourBytes(t *testing.T) {
	es := []expr.Any{
		&expr.Immediate{Register: 1, Data: []byte{0, 0, 0, 0}},
		&expr.Redir{RegisterProtoMin: 1, Flags: 2},
	}
	want := ruleOf(ruleset.Redirect{Port: 0})
	if got := ParseRule(es, nil); !cmp.Equal(want, got, modelCmp) {
		t.Errorf("ParseRule(4-byte immediate, redir) = %q, want %q", got, want)
	}
}
