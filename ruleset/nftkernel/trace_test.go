package nftkernel

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// traceMsg encodes a trace message as the kernel sends it.
func traceMsg(t *testing.T, enc func(ae *netlink.AttributeEncoder)) netlink.Message {
	t.Helper()
	ae := netlink.NewAttributeEncoder()
	ae.ByteOrder = binary.BigEndian
	enc(ae)
	b, err := ae.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return netlink.Message{Header: netlink.Header{Type: traceMsgType}, Data: append([]byte{unix.NFPROTO_INET, 0, 0, 0}, b...)}
}

func TestParseTrace(t *testing.T) {
	ip := make([]byte, 20)
	ip[0], ip[9] = 0x45, unix.IPPROTO_TCP
	copy(ip[12:], []byte{198, 18, 1, 2})
	copy(ip[16:], []byte{198, 18, 1, 1})
	tcp := []byte{0xc3, 0x50, 0x1b, 0x58} // 50000 -> 7000
	rule := traceMsg(t, func(ae *netlink.AttributeEncoder) {
		ae.String(unix.NFTA_TRACE_TABLE, "knockc")
		ae.String(unix.NFTA_TRACE_CHAIN, "ssh_open")
		ae.Uint32(unix.NFTA_TRACE_ID, 77)
		ae.Uint64(unix.NFTA_TRACE_RULE_HANDLE, 12)
		ae.Uint32(unix.NFTA_TRACE_TYPE, unix.NFT_TRACETYPE_RULE)
		ae.Nested(unix.NFTA_TRACE_VERDICT, func(nae *netlink.AttributeEncoder) error {
			nae.Uint32(unix.NFTA_VERDICT_CODE, uint32(0xfffffffd)) // NFT_JUMP
			nae.String(unix.NFTA_VERDICT_CHAIN, "ssh_gate")
			return nil
		})
		ae.Bytes(unix.NFTA_TRACE_NETWORK_HEADER, ip)
		ae.Bytes(unix.NFTA_TRACE_TRANSPORT_HEADER, tcp)
	})
	ev, ok := parseTrace(rule)
	want := TraceEvent{ID: 77, Table: "knockc", Chain: "ssh_open", Kind: "rule", Handle: 12, Verdict: "jump ssh_gate",
		Src: netip.MustParseAddr("198.18.1.2"), Dst: netip.MustParseAddr("198.18.1.1"), Proto: unix.IPPROTO_TCP, DPort: 7000}
	if !ok || ev != want {
		t.Errorf("parseTrace(rule) = %+v, %v; want %+v", ev, ok, want)
	}

	end := traceMsg(t, func(ae *netlink.AttributeEncoder) {
		ae.String(unix.NFTA_TRACE_CHAIN, "ssh_close")
		ae.Uint32(unix.NFTA_TRACE_TYPE, unix.NFT_TRACETYPE_RULE)
	})
	if ev, ok := parseTrace(end); !ok || ev.Kind != "return" {
		t.Errorf("parseTrace(rule without a handle) = %+v, want kind return (end of chain)", ev)
	}
	policy := traceMsg(t, func(ae *netlink.AttributeEncoder) {
		ae.Uint32(unix.NFTA_TRACE_TYPE, unix.NFT_TRACETYPE_POLICY)
		ae.Uint32(unix.NFTA_TRACE_POLICY, 1) // NF_ACCEPT
	})
	if ev, ok := parseTrace(policy); !ok || ev.Kind != "policy" || ev.Verdict != "accept" {
		t.Errorf("parseTrace(policy) = %+v, want policy accept", ev)
	}
	if _, ok := parseTrace(netlink.Message{Header: netlink.Header{Type: 1}}); ok {
		t.Error("parseTrace(another message) = ok")
	}
}
