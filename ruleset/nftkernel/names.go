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

// mapping is one table between a model word and the kernel's value for
// it: the encoder reads it one way, the parser and the dump the other.
type mapping[M, K comparable] []struct {
	model  M
	kernel K
}

// kernel returns the kernel's value for m.
func (t mapping[M, K]) kernel(m M) (K, bool) {
	for _, e := range t {
		if e.model == m {
			return e.kernel, true
		}
	}
	var zero K
	return zero, false
}

// model returns the model's word for the kernel's value k.
func (t mapping[M, K]) model(k K) (M, bool) {
	for _, e := range t {
		if e.kernel == k {
			return e.model, true
		}
	}
	var zero M
	return zero, false
}

// verdicts are the verdicts a rule of knockc may end in.
var verdicts = mapping[ruleset.VerdictKind, expr.VerdictKind]{
	{ruleset.VerdictAccept, expr.VerdictAccept},
	{ruleset.VerdictDrop, expr.VerdictDrop},
	{ruleset.VerdictReturn, expr.VerdictReturn},
	{ruleset.VerdictJump, expr.VerdictJump},
	{ruleset.VerdictGoto, expr.VerdictGoto},
}

// setOps are the dynset operations (opDelete: x/sys does not name it).
var setOps = mapping[ruleset.SetOp, uint32]{
	{ruleset.OpAdd, unix.NFT_DYNSET_OP_ADD},
	{ruleset.OpUpdate, unix.NFT_DYNSET_OP_UPDATE},
	{ruleset.OpDelete, opDelete},
}

// hooks are the inet hook numbers. A base chain of an inet table can use
// all but ingress without naming a device (ChainObj refuses ingress).
var hooks = mapping[ruleset.HookPoint, nftables.ChainHook]{
	{ruleset.HookPrerouting, unix.NF_INET_PRE_ROUTING},
	{ruleset.HookInput, unix.NF_INET_LOCAL_IN},
	{ruleset.HookForward, unix.NF_INET_FORWARD},
	{ruleset.HookOutput, unix.NF_INET_LOCAL_OUT},
	{ruleset.HookPostrouting, unix.NF_INET_POST_ROUTING},
	{ruleset.HookIngress, unix.NF_INET_NUMHOOKS}, // NF_INET_INGRESS, unnamed in x/sys
}

// chainTypes are the base chain types nft knows.
var chainTypes = mapping[ruleset.ChainType, nftables.ChainType]{
	{ruleset.ChainFilter, nftables.ChainTypeFilter},
	{ruleset.ChainNAT, nftables.ChainTypeNAT},
	{ruleset.ChainRoute, nftables.ChainTypeRoute},
}

// policies are the base chain policies.
var policies = mapping[ruleset.Policy, nftables.ChainPolicy]{
	{ruleset.PolicyAccept, nftables.ChainPolicyAccept},
	{ruleset.PolicyDrop, nftables.ChainPolicyDrop},
}

// familyFacts is what the kernel needs to know of each address family, in
// one table: the NFPROTO value meta nfproto compares with, the set key
// datatype of an address, and where the source and destination addresses
// sit in the network header (offset, length).
var familyFacts = []struct {
	family       ruleset.Family
	nfproto      byte
	key          nftables.SetDatatype
	saddr, daddr [2]uint32
}{
	{ruleset.IPv4, unix.NFPROTO_IPV4, nftables.TypeIPAddr, [2]uint32{12, 4}, [2]uint32{16, 4}},
	{ruleset.IPv6, unix.NFPROTO_IPV6, nftables.TypeIP6Addr, [2]uint32{8, 16}, [2]uint32{24, 16}},
}

// facts returns familyFacts' row of f; any family but IPv6 is IPv4's.
func facts(f ruleset.Family) int {
	if f == ruleset.IPv6 {
		return 1
	}
	return 0
}

// nfproto returns the NFPROTO value nft compares meta nfproto with for f.
func nfproto(f ruleset.Family) byte { return familyFacts[facts(f)].nfproto }

// keyType returns the set key datatype of an address of family f.
func keyType(f ruleset.Family) nftables.SetDatatype { return familyFacts[facts(f)].key }

// saddrField returns where the source address of f sits in the network
// header: its offset and length.
func saddrField(f ruleset.Family) (offset, length uint32) {
	a := familyFacts[facts(f)].saddr
	return a[0], a[1]
}

// daddrField returns where the destination address of f sits in the
// network header: its offset and length.
func daddrField(f ruleset.Family) (offset, length uint32) {
	a := familyFacts[facts(f)].daddr
	return a[0], a[1]
}

// familyOfNFProto returns the family meta nfproto value p stands for.
func familyOfNFProto(p byte) (ruleset.Family, bool) {
	for _, ff := range familyFacts {
		if ff.nfproto == p {
			return ff.family, true
		}
	}
	return 0, false
}

// familyOfKey returns the family whose addresses a set of key type k holds.
func familyOfKey(k nftables.SetDatatype) (ruleset.Family, bool) {
	for _, ff := range familyFacts {
		if k.GetNFTMagic() == ff.key.GetNFTMagic() && k.Bytes == ff.key.Bytes {
			return ff.family, true
		}
	}
	return 0, false
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
