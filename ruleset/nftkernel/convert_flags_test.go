package nftkernel

import (
	"github.com/google/nftables/expr"

	"github.com/knockc/knockc/ruleset"
)

// tcpFlagsCase is the rule "tcp flags ..." for flags under mask, and the
// expressions nft 1.0.6 sends for it (`nft --debug=netlink -f`): the AND is
// left out for a mask of all flags.
func tcpFlagsCase(name string, flags, mask uint8) convertCase {
	want := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{6}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 13, Len: 1},
	}
	if mask != 0xff {
		want = append(want, &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 1, Mask: []byte{mask}, Xor: []byte{0}})
	}
	want = append(want, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{flags}})
	return convertCase{name: name, rule: ruleOf(ruleset.TCPFlags{Flags: flags, Mask: mask}), want: want}
}

// tcpFlagsCases are the flag matches nft lists in words of their own; the
// kernel round trip (TestKernelRoundTrip) checks each against `nft list
// table` and reads each back.
var tcpFlagsCases = []convertCase{
	tcpFlagsCase("flags-fin", 0x01, 0x01),     // tcp flags & fin == fin
	tcpFlagsCase("flags-syn", 0x02, 0x02),     // tcp flags & syn == syn
	tcpFlagsCase("flags-rst", 0x04, 0x04),     // tcp flags & rst == rst
	tcpFlagsCase("flags-psh", 0x08, 0x08),     // tcp flags & psh == psh
	tcpFlagsCase("flags-ack", 0x10, 0x10),     // tcp flags & ack == ack
	tcpFlagsCase("flags-urg", 0x20, 0x20),     // tcp flags & urg == urg
	tcpFlagsCase("flags-ecn", 0x40, 0x40),     // tcp flags & ecn == ecn
	tcpFlagsCase("flags-cwr", 0x80, 0x80),     // tcp flags & cwr == cwr
	tcpFlagsCase("flags-not-syn", 0, 0x02),    // tcp flags ! syn
	tcpFlagsCase("flags-not-two", 0, 0x12),    // tcp flags ! syn,ack
	tcpFlagsCase("flags-both", 0x03, 0x03),    // tcp flags fin,syn / fin,syn
	tcpFlagsCase("flags-all-syn", 0x02, 0xff), // tcp flags == syn
	tcpFlagsCase("flags-all-cwr", 0x80, 0xff), // tcp flags == cwr
	tcpFlagsCase("flags-all-two", 0x12, 0xff), // tcp flags == 0x12
	tcpFlagsCase("flags-all-none", 0, 0xff),   // tcp flags == 0x0
}
