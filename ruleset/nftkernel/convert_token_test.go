package nftkernel

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/knockc/knockc/ruleset"
)

// tokenRule is a token door's IPv4 rule as the compiler writes it.
func tokenRule() *ruleset.Rule {
	f := ruleset.TokenField
	return ruleOf(
		ruleset.NFProto{Family: ruleset.IPv4},
		ruleset.DPort{Proto: ruleset.UDP, Port: 62201},
		ruleset.PayloadIn{Field: f, Set: "tok"},
		ruleset.SetPayload{Op: ruleset.OpDelete, Set: "tok", Field: f},
		ruleset.SetSAddr{Op: ruleset.OpUpdate, Set: "g4", Family: ruleset.IPv4},
		ruleset.Verdict{Kind: "return"},
	)
}

// TestTokenRuleExprs compares the token rule with what nft 1.0.6 makes of
// its text:
//
//	meta nfproto ipv4 udp dport 62201 @th,64,128 @tok delete @tok { @th,64,128 } update @g4 { ip saddr } return
//
// (`nft --debug=netlink`, on this kernel), and parses it back.
func TestTokenRuleExprs(t *testing.T) {
	want := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_UDP}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0xf2, 0xf9}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 8, Len: 16},
		&expr.Lookup{SourceRegister: 1, SetName: "tok"},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 8, Len: 16},
		&expr.Dynset{SrcRegKey: 1, SetName: "tok", Operation: opDelete},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Dynset{SrcRegKey: 1, SetName: "g4", Operation: unix.NFT_DYNSET_OP_UPDATE},
		&expr.Verdict{Kind: expr.VerdictReturn},
	}
	r := tokenRule()
	got, err := RuleExprs(r)
	if err != nil {
		t.Fatalf("RuleExprs(%s) = %v", r, err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("RuleExprs(%s) (-want +got):\n%s", r, diff)
	}
	back := ParseRule(got, nil)
	if back.String() != r.String() {
		t.Errorf("ParseRule(RuleExprs(%s)) = %s", r, back)
	}
}

func TestTokenStmtErrors(t *testing.T) {
	f := ruleset.TokenField
	for _, tc := range []struct {
		name string
		rule *ruleset.Rule
		want string
	}{
		{"payload without l4", ruleOf(ruleset.PayloadIn{Field: f, Set: "tok"}), "needs a udp or tcp match"},
		{"nfproto before saddr", ruleOf(ruleset.NFProto{Family: ruleset.IPv4}, ruleset.SAddrIn{Family: ruleset.IPv4, Set: "g"}), "leave it out"},
		{"nfproto twice", ruleOf(ruleset.NFProto{Family: ruleset.IPv4}, ruleset.NFProto{Family: ruleset.IPv6}), "matched a family already"},
		{"network field", ruleOf(ruleset.DPort{Proto: ruleset.UDP, Port: 1}, ruleset.PayloadIn{Field: ruleset.Payload{Base: "nh", Offset: 0, Len: 8}, Set: "s"}), "only @th"},
		{"odd bits", ruleOf(ruleset.DPort{Proto: ruleset.UDP, Port: 1}, ruleset.SetPayload{Set: "s", Field: ruleset.Payload{Base: "th", Offset: 3, Len: 8}}), "whole bytes"},
	} {
		if _, err := RuleExprs(tc.rule); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: RuleExprs(%s) = %v, want an error with %q", tc.name, tc.rule, err, tc.want)
		}
	}
}
