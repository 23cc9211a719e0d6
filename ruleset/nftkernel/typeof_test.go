package nftkernel

import (
	"bytes"
	"testing"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/knockc/knockc/ruleset"
)

// TestTypeofUserData checks that a queued token set carries, after the
// key byte order google/nftables writes, the typeof bytes nft 1.0.6 wrote
// for "typeof @th,64,128" (read back from a set nft made on this kernel).
func TestTypeofUserData(t *testing.T) {
	var sent []netlink.Message
	n, err := nftables.New(nftables.WithTestDial(func(req []netlink.Message) ([]netlink.Message, error) {
		sent = append(sent, req...)
		out := make([]netlink.Message, len(req))
		for i, m := range req {
			out[i] = netlink.Message{Header: netlink.Header{Type: netlink.Error, Sequence: m.Header.Sequence, PID: m.Header.PID}, Data: make([]byte, 4)}
		}
		return out, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	tbl := &nftables.Table{Name: "knockc", Family: nftables.TableFamilyINet}
	f := ruleset.TokenField
	if err := addSet(n, tbl, &ruleset.Set{Name: "ssh_tok_alice", Typeof: &f, Size: 100}, 1); err != nil {
		t.Fatalf("addSet(token set) = %v", err)
	}
	_ = n.Flush()
	// nft 1.0.6, `nft -f` of "set tok { typeof @th,64,128; flags timeout; }":
	const want = "\x00\x04\x02\x00\x00\x00" + "\x03\x26\x00\x04\x07\x00\x00\x00\x01\x1e\x00\x04\x00\x00\x00\x00\x01\x04\x00\x00\x00\x00\x02\x04\x03\x00\x00\x00\x03\x04\x40\x00\x00\x00\x04\x04\x80\x00\x00\x00"
	for _, m := range sent {
		if m.Header.Type != netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8|unix.NFT_MSG_NEWSET) {
			continue
		}
		attrs, err := netlink.UnmarshalAttributes(m.Data[4:])
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range attrs {
			if a.Type == unix.NFTA_SET_USERDATA {
				if !bytes.Equal(a.Data, []byte(want)) {
					t.Errorf("token set userdata = %x, want %x", a.Data, want)
				}
				return
			}
		}
		t.Fatal("token set message has no userdata")
	}
	t.Fatal("no set message sent")
}
