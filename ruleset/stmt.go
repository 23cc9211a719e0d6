package ruleset

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Stmt is one statement of a rule: a match or an action, in the words nft
// uses. The set of statements is closed: the kernel subpackage converts each
// one to netlink expressions and parses them back.
type Stmt interface {
	// String returns the statement in nft syntax, as `nft list` prints it.
	String() string
	stmt()
}

// Proto is a transport protocol knockc matches on.
type Proto uint8

// The transport protocols a knock or a protected port can use.
const (
	TCP Proto = 6
	UDP Proto = 17
)

// String returns "tcp" or "udp".
func (p Proto) String() string {
	switch p {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	}
	return "l4proto-" + strconv.Itoa(int(p))
}

// CTState matches the packet's conntrack state, e.g. established,related.
type CTState struct{ States []string }

// IIFName matches the input interface; a trailing "*" matches a prefix.
type IIFName struct{ Name string }

// L4Proto matches any packet of a transport protocol.
type L4Proto struct{ Proto Proto }

// DPort matches a transport protocol and destination port.
type DPort struct {
	Proto Proto
	Port  uint16
}

// TCPFlags matches TCP packets whose flags under Mask equal Flags.
type TCPFlags struct{ Flags, Mask uint8 }

// SAddrIn matches the source address against a named set (or its absence
// from it, with Not).
type SAddrIn struct {
	Family Family
	Set    string
	Not    bool
}

// SAddrPrefix matches the source address against a network prefix.
type SAddrPrefix struct{ Prefix netip.Prefix }

// SetOp is what a rule does to a dynamic set with the packet's source address.
type SetOp uint8

// The dynset operations. Add leaves an existing element's timeout alone,
// update restarts it, delete removes the element.
const (
	OpAdd SetOp = iota
	OpUpdate
	OpDelete
)

// SetSAddr adds, updates or deletes the packet's source address in a set.
type SetSAddr struct {
	Op     SetOp
	Set    string
	Family Family
}

// Log sends the packet to an NFLOG group with a prefix naming the event.
type Log struct {
	Prefix string
	Group  uint16
}

// Verdict ends (or diverts) evaluation: accept, drop, return, jump or goto.
type Verdict struct {
	Kind  VerdictKind
	Chain string // for jump and goto
}

// Reject answers like a closed port: a TCP reset, or an ICMP(v6) port
// unreachable for anything else.
type Reject struct{ TCPReset bool }

// Queue hands the packet to an NFQUEUE queue, where knockc's monitor holds
// a pending knocker's SYN until its service is up. There is no bypass: with
// no monitor bound the packet is dropped (fail closed). The kernel gets the
// native queue statement when it has nft_queue, else the xtables NFQUEUE
// target; XT says which one a rule read back from the kernel used, and
// takes no part in rendering or comparing.
type Queue struct {
	Num uint16
	XT  bool
}

// SPort matches a transport protocol and source port.
type SPort struct {
	Proto Proto
	Port  uint16
}

// DAddrIn matches the destination address against a named set.
type DAddrIn struct {
	Family Family
	Set    string
}

// SetDAddr adds, updates or deletes the packet's destination address in a
// set.
type SetDAddr struct {
	Op     SetOp
	Set    string
	Family Family
}

// SetPort rewrites the packet's TCP destination port (or source port, with
// Source), fixing the checksum: how knockc hands a packet the stack finds
// invalid to a port nothing listens on, and gives its answer the
// protected port back (docs/stealth.md).
type SetPort struct {
	Source bool
	Port   uint16
}

// Redirect is a nat statement: the packet goes to Port on this host, and
// conntrack maps the answer back. knockc sends non-granted packets to a
// port nothing listens on, so that the host's stack itself answers.
type Redirect struct{ Port uint16 }

// MarkSet sets the packet mark: knockc marks granted packets so the host
// firewall can allow a protected port only for them.
type MarkSet struct{ Mark uint32 }

// Raw is a statement read back from the kernel that knockc did not write
// (a hand edit). It renders as its text so a plan shows it as drift; it is
// never sent to the kernel.
type Raw struct{ Text string }

func (CTState) stmt()     {}
func (IIFName) stmt()     {}
func (L4Proto) stmt()     {}
func (DPort) stmt()       {}
func (TCPFlags) stmt()    {}
func (SAddrIn) stmt()     {}
func (SAddrPrefix) stmt() {}
func (SetSAddr) stmt()    {}
func (Log) stmt()         {}
func (Verdict) stmt()     {}
func (Reject) stmt()      {}
func (Queue) stmt()       {}
func (SPort) stmt()       {}
func (DAddrIn) stmt()     {}
func (SetDAddr) stmt()    {}
func (SetPort) stmt()     {}
func (Redirect) stmt()    {}
func (MarkSet) stmt()     {}
func (Raw) stmt()         {}

func (s CTState) String() string { return "ct state " + strings.Join(s.States, ",") }

func (s IIFName) String() string { return "iifname " + strconv.Quote(s.Name) }

func (s L4Proto) String() string { return "meta l4proto " + s.Proto.String() }

func (s DPort) String() string { return fmt.Sprintf("%s dport %d", s.Proto, s.Port) }

// String renders the match in the words nft 1.0.6 lists it with, so that a
// rendered table and "nft list table" agree (docs/testing.md):
//
//	mask of all flags    tcp flags == syn, tcp flags == 0x12, tcp flags == 0x0
//	no flag set          tcp flags ! syn,ack
//	one-flag mask        tcp flags & syn == syn
//	otherwise            tcp flags syn / syn,ack
//
// nft's own parser refuses "tcp flags syn / syn" (a one-name mask), which is
// why the one-flag form is the only one it accepts.
func (s TCPFlags) String() string {
	switch {
	case s.Mask == 0xff && s.Flags != 0 && s.Flags&(s.Flags-1) == 0:
		return "tcp flags == " + FlagNames(s.Flags)
	case s.Mask == 0xff:
		return fmt.Sprintf("tcp flags == %#x", s.Flags)
	case s.Flags == 0:
		return "tcp flags ! " + FlagNames(s.Mask)
	case s.Mask&(s.Mask-1) == 0 && s.Flags == s.Mask:
		return "tcp flags & " + FlagNames(s.Mask) + " == " + FlagNames(s.Flags)
	}
	return "tcp flags " + FlagNames(s.Flags) + " / " + FlagNames(s.Mask)
}

func (s SAddrIn) String() string {
	op := ""
	if s.Not {
		op = "!= "
	}
	return s.Family.saddr() + " " + op + "@" + s.Set
}

func (s SAddrPrefix) String() string {
	p := s.Prefix.Masked()
	f := IPv4
	if p.Addr().Is6() {
		f = IPv6
	}
	if p.IsSingleIP() {
		return f.saddr() + " " + p.Addr().String()
	}
	return f.saddr() + " " + p.String()
}

func (s SetSAddr) String() string {
	return fmt.Sprintf("%s @%s { %s }", s.Op, s.Set, s.Family.saddr())
}

func (s Log) String() string { return fmt.Sprintf("log prefix %q group %d", s.Prefix, s.Group) }

func (s Verdict) String() string {
	if s.Chain != "" {
		return string(s.Kind) + " " + s.Chain
	}
	return string(s.Kind)
}

func (s Reject) String() string {
	if s.TCPReset {
		return "reject with tcp reset"
	}
	return "reject"
}

func (s Queue) String() string { return fmt.Sprintf("queue num %d", s.Num) }

func (s Raw) String() string { return s.Text }

func (s SPort) String() string { return fmt.Sprintf("%s sport %d", s.Proto, s.Port) }

func (s DAddrIn) String() string { return s.Family.daddr() + " @" + s.Set }

func (s SetDAddr) String() string {
	return fmt.Sprintf("%s @%s { %s }", s.Op, s.Set, s.Family.daddr())
}

func (s SetPort) String() string {
	if s.Source {
		return fmt.Sprintf("tcp sport set %d", s.Port)
	}
	return fmt.Sprintf("tcp dport set %d", s.Port)
}

func (s Redirect) String() string { return fmt.Sprintf("redirect to :%d", s.Port) }

func (s MarkSet) String() string { return fmt.Sprintf("meta mark set %#08x", s.Mark) }

// tcpFlagNames are the TCP flag bits in the order nft prints them.
var tcpFlagNames = []string{"fin", "syn", "rst", "psh", "ack", "urg", "ecn", "cwr"}

// FlagNames renders a TCP flag byte as nft does: "fin,syn,rst,ack".
func FlagNames(b uint8) string {
	var names []string
	for i, n := range tcpFlagNames {
		if b&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	return strings.Join(names, ",")
}

// FlagBit returns the bit of a TCP flag name, and false for an unknown name.
func FlagBit(name string) (uint8, bool) {
	for i, n := range tcpFlagNames {
		if n == name {
			return 1 << i, true
		}
	}
	return 0, false
}

// String renders the rule as nft prints it, comment last.
func (r *Rule) String() string {
	parts := make([]string, 0, len(r.Stmts)+1)
	for _, s := range r.Stmts {
		parts = append(parts, s.String())
	}
	if r.Comment != "" {
		parts = append(parts, "comment "+strconv.Quote(r.Comment))
	}
	return strings.Join(parts, " ")
}
