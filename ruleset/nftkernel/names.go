package nftkernel

import (
	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/knockc/knockc/ruleset"
)

// reg is the data register every expression of a rule uses, as nft does.
const reg = unix.NFT_REG_1

// ctStates are the conntrack state bits in the order nft prints them.
var ctStates = []struct {
	name string
	bit  uint32
}{
	{"invalid", expr.CtStateBitINVALID},
	{"established", expr.CtStateBitESTABLISHED},
	{"related", expr.CtStateBitRELATED},
	{"new", expr.CtStateBitNEW},
	{"untracked", expr.CtStateBitUNTRACKED},
}

// hookNames are the inet hook names indexed by hook number.
var hookNames = []string{"prerouting", "input", "forward", "output", "postrouting", "ingress"}

// baseChainHooks are the hooks a base chain of an inet table can use without
// naming a device.
var baseChainHooks = map[string]nftables.ChainHook{
	"prerouting":  unix.NF_INET_PRE_ROUTING,
	"input":       unix.NF_INET_LOCAL_IN,
	"forward":     unix.NF_INET_FORWARD,
	"output":      unix.NF_INET_LOCAL_OUT,
	"postrouting": unix.NF_INET_POST_ROUTING,
}

// chainTypes are the base chain types nft knows.
var chainTypes = map[string]nftables.ChainType{
	"filter": nftables.ChainTypeFilter,
	"nat":    nftables.ChainTypeNAT,
	"route":  nftables.ChainTypeRoute,
}

// nfproto returns the NFPROTO value nft compares meta nfproto with for f.
func nfproto(f ruleset.Family) byte {
	if f == ruleset.IPv6 {
		return unix.NFPROTO_IPV6
	}
	return unix.NFPROTO_IPV4
}

// saddrField returns where the source address of f sits in the network
// header: its offset and length.
func saddrField(f ruleset.Family) (offset, length uint32) {
	if f == ruleset.IPv6 {
		return 8, 16
	}
	return 12, 4
}

// daddrField returns where the destination address of f sits in the
// network header: its offset and length.
func daddrField(f ruleset.Family) (offset, length uint32) {
	if f == ruleset.IPv6 {
		return 24, 16
	}
	return 16, 4
}

// Offsets into the TCP and UDP headers that knockc matches on or writes.
const (
	sportOffset    = 0
	dportOffset    = 2
	tcpFlagsOffset = 13
	tcpCsumOffset  = 16
)

// natRangeProtoSpecified is NF_NAT_RANGE_PROTO_SPECIFIED: a redirect names
// its port.
const natRangeProtoSpecified = 0x2

// l4protoNames are nft's names for the transport protocols a hand-written
// meta l4proto is likely to use.
var l4protoNames = map[byte]string{
	unix.IPPROTO_ICMP:    "icmp",
	unix.IPPROTO_IGMP:    "igmp",
	unix.IPPROTO_TCP:     "tcp",
	unix.IPPROTO_UDP:     "udp",
	unix.IPPROTO_GRE:     "gre",
	unix.IPPROTO_ESP:     "esp",
	unix.IPPROTO_AH:      "ah",
	unix.IPPROTO_ICMPV6:  "ipv6-icmp",
	unix.IPPROTO_SCTP:    "sctp",
	unix.IPPROTO_UDPLITE: "udplite",
}
