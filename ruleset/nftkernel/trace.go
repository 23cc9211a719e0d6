package nftkernel

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// TraceEvent is one step of a traced packet through nftables, as the
// kernel reports it over NFNLGRP_NFTRACE (`nft monitor trace`).
type TraceEvent struct {
	// ID is the kernel's trace id: every event of one packet has it.
	ID    uint32
	Table string
	Chain string
	// Kind is "rule" (a rule matched), "return" (the chain ended and
	// evaluation went back to its caller) or "policy" (a base chain
	// ended with its policy).
	Kind string
	// Handle is the matching rule's handle, for Kind "rule".
	Handle uint64
	// Comment is the rule's comment when it is one of knockc's (door,
	// role and step in knockc's words); "" otherwise.
	Comment string
	// Verdict is "accept", "drop", "queue", "continue", "return",
	// "jump CHAIN" or "goto CHAIN"; for a policy, the policy.
	Verdict string
	// Src, Dst, Proto and DPort describe the packet; they are set on the
	// first event of each packet (the kernel sends the headers once).
	Src, Dst netip.Addr
	Proto    uint8 // IPPROTO_TCP, IPPROTO_UDP, …
	DPort    uint16
}

// traceTable returns the name of the table Trace adds beside knockc's.
func traceTable(table string) string { return table + "_trace" }

// tracePriority runs the trace chain before conntrack (-200) and nft's
// raw priority (-300): every later chain of every table is traced.
const tracePriority = -350

// Trace sets nftrace on packets from src arriving in the namespace (a base
// chain at prerouting in a table of its own, table+"_trace", which only
// marks packets and accepts them all) and calls fn for each trace event of
// those packets until ctx ends; then it deletes that table again. Rules
// of knockc's table are described by their comments. It fails when the
// table cannot be added or the trace group cannot be joined; the trace
// table is deleted on every path.
func (c *Conn) Trace(ctx context.Context, table string, src netip.Addr, fn func(TraceEvent)) error {
	comments, err := c.ruleComments(table)
	if err != nil {
		return err
	}
	cfg := &netlink.Config{}
	if c.ns != nil {
		cfg.NetNS = int(c.ns.Fd())
	}
	nl, err := netlink.Dial(unix.NETLINK_NETFILTER, cfg)
	if err != nil {
		return fmt.Errorf("trace: open netlink: %w", err)
	}
	defer nl.Close()
	if err := nl.JoinGroup(unix.NFNLGRP_NFTRACE); err != nil {
		return fmt.Errorf("trace: join the nftrace group: %w", err)
	}
	// A trace killed before it could clean up (SIGKILL) left its table:
	// start from none, so its old rule does not trace another source.
	if err := c.Delete(traceTable(table)); err != nil {
		return fmt.Errorf("trace: remove a leftover table: %w", err)
	}
	if err := c.addTraceTable(table, src); err != nil {
		return err
	}
	defer c.Delete(traceTable(table))

	seen := map[uint32]bool{} // trace ids of src's packets
	for ctx.Err() == nil {
		if err := nl.SetReadDeadline(time.Now().Add(100 * time.Millisecond)); err != nil {
			return fmt.Errorf("trace: %w", err)
		}
		msgs, err := nl.Receive()
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			return fmt.Errorf("trace: receive: %w", err)
		}
		for _, m := range msgs {
			ev, ok := parseTrace(m)
			if !ok || ev.Table == traceTable(table) {
				continue
			}
			if ev.Src.IsValid() {
				seen[ev.ID] = ev.Src == src
			}
			if !seen[ev.ID] {
				continue
			}
			if ev.Table == table && ev.Kind == "rule" {
				ev.Comment = comments[ev.Handle]
			}
			fn(ev)
		}
	}
	return nil
}

// ruleComments maps the handle of every rule of table to its comment.
func (c *Conn) ruleComments(table string) (map[uint64]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[uint64]string{}
	tbl := &nftables.Table{Name: table, Family: nftables.TableFamilyINet}
	chains, err := c.nft.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return nil, fmt.Errorf("trace: read chains: %w", err)
	}
	for _, ch := range chains {
		if ch.Table == nil || ch.Table.Name != table {
			continue
		}
		rules, err := c.nft.GetRules(tbl, ch)
		if err != nil {
			return nil, fmt.Errorf("trace: read rules of chain %q: %w", ch.Name, err)
		}
		for _, r := range rules {
			out[r.Handle] = ruleComment(r.UserData)
		}
	}
	return out, nil
}

// addTraceTable adds, in one batch, table+"_trace" with a prerouting chain
// whose one rule sets nftrace on packets from src.
func (c *Conn) addTraceTable(table string, src netip.Addr) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.nft.AddTable(&nftables.Table{Name: traceTable(table), Family: nftables.TableFamilyINet})
	prio := nftables.ChainPriority(tracePriority)
	accept := nftables.ChainPolicyAccept
	ch := c.nft.AddChain(&nftables.Chain{Name: "trace", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookPrerouting, Priority: &prio, Policy: &accept})
	proto, off := byte(unix.NFPROTO_IPV4), uint32(12)
	if src.Is6() && !src.Is4In6() {
		proto, off = unix.NFPROTO_IPV6, 8
	}
	addr := src.Unmap().AsSlice()
	c.nft.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: uint32(len(addr))},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: addr},
		&expr.Immediate{Register: 1, Data: []byte{1}},
		&expr.Meta{Key: expr.MetaKeyNFTRACE, SourceRegister: true, Register: 1},
	}})
	if err := c.nft.Flush(); err != nil {
		return fmt.Errorf("trace: add table %q: %w", traceTable(table), err)
	}
	return nil
}

// traceMsgType is the netlink type of nf_tables trace messages.
const traceMsgType = netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_TRACE)

// parseTrace decodes one trace message; ok is false for anything else.
func parseTrace(m netlink.Message) (ev TraceEvent, ok bool) {
	if m.Header.Type != traceMsgType || len(m.Data) < 4 {
		return ev, false
	}
	ad, err := netlink.NewAttributeDecoder(m.Data[4:]) // after struct nfgenmsg
	if err != nil {
		return ev, false
	}
	ad.ByteOrder = binary.BigEndian
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_TRACE_TABLE:
			ev.Table = ad.String()
		case unix.NFTA_TRACE_CHAIN:
			ev.Chain = ad.String()
		case unix.NFTA_TRACE_ID:
			ev.ID = ad.Uint32()
		case unix.NFTA_TRACE_RULE_HANDLE:
			ev.Handle = ad.Uint64()
		case unix.NFTA_TRACE_TYPE:
			ev.Kind = map[uint32]string{unix.NFT_TRACETYPE_POLICY: "policy", unix.NFT_TRACETYPE_RETURN: "return", unix.NFT_TRACETYPE_RULE: "rule"}[ad.Uint32()]
		case unix.NFTA_TRACE_VERDICT:
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				var code uint32
				var chain string
				for nad.Next() {
					switch nad.Type() {
					case unix.NFTA_VERDICT_CODE:
						code = nad.Uint32()
					case unix.NFTA_VERDICT_CHAIN:
						chain = nad.String()
					}
				}
				ev.Verdict = traceVerdict(int32(code), chain)
				return nil
			})
		case unix.NFTA_TRACE_POLICY:
			ev.Verdict = traceVerdict(int32(ad.Uint32()), "")
		case unix.NFTA_TRACE_NETWORK_HEADER:
			ev.Src, ev.Dst, ev.Proto = networkHeader(ad.Bytes())
		case unix.NFTA_TRACE_TRANSPORT_HEADER:
			if b := ad.Bytes(); len(b) >= 4 {
				ev.DPort = binary.BigEndian.Uint16(b[2:4])
			}
		}
	}
	if ev.Kind == "rule" && ev.Handle == 0 {
		// The end of a regular chain: no rule matched, evaluation goes
		// back to the caller (the kernel reports it as a rule without one).
		ev.Kind = "return"
	}
	return ev, ad.Err() == nil
}

// networkHeader reads the addresses and protocol of an IPv4 or IPv6
// header (IPv6 extension headers are not followed).
func networkHeader(b []byte) (src, dst netip.Addr, proto uint8) {
	switch {
	case len(b) >= 20 && b[0]>>4 == 4:
		src, _ = netip.AddrFromSlice(b[12:16])
		dst, _ = netip.AddrFromSlice(b[16:20])
		return src, dst, b[9]
	case len(b) >= 40 && b[0]>>4 == 6:
		src, _ = netip.AddrFromSlice(b[8:24])
		dst, _ = netip.AddrFromSlice(b[24:40])
		return src, dst, b[6]
	}
	return
}

// traceVerdict names a verdict code with dump.go's names, and the chain
// of a jump or goto.
func traceVerdict(code int32, chain string) string {
	name := verdictName(expr.VerdictKind(code))
	if chain != "" {
		name += " " + chain
	}
	return name
}
