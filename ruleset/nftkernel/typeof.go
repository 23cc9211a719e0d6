package nftkernel

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"unsafe"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/knockc/knockc/ruleset"
)

// nft keeps a token set's "typeof @th,64,128" in the set's userdata; the
// kernel only knows a 16-byte integer key. google/nftables v0.3.0 writes
// no typeof userdata (nor lets a caller add any), and without it nft lists
// the set as "type 0", which it cannot load again. So after AddSet queues
// the set, addTypeof appends to that message's userdata the bytes nft
// 1.0.6 writes for the field, read back from a set nft created:
//
//	03 26                     NFTNL_UDATA_SET_KEY_TYPEOF, 38 bytes:
//	  00 04 07000000            TYPEOF_EXPR = EXPR_PAYLOAD
//	  01 1e                     TYPEOF_DATA, 30 bytes:
//	    00 04 00000000            payload desc (none: a raw field)
//	    01 04 00000000            payload type
//	    02 04 <base>              PROTO_BASE_TRANSPORT_HDR = 3
//	    03 04 <offset bits>       64
//	    04 04 <length bits>       128
//
// (integers in host byte order, as libnftnl writes them).

// Userdata TLV types of libnftnl (include/udata.h).
const (
	udataSetKeyTypeof = 3
	udataTypeofExpr   = 0
	udataTypeofData   = 1
	exprPayload       = 7 // nft's EXPR_PAYLOAD
	protoBaseTH       = 3 // nft's PROTO_BASE_TRANSPORT_HDR
)

// typeofUserData returns the typeof TLV for a raw transport-header field.
func typeofUserData(p ruleset.Payload) []byte {
	u32 := func(typ byte, v uint32) []byte {
		b := []byte{typ, 4, 0, 0, 0, 0}
		binary.NativeEndian.PutUint32(b[2:], v)
		return b
	}
	var data []byte
	data = append(data, u32(0, 0)...)
	data = append(data, u32(1, 0)...)
	data = append(data, u32(2, protoBaseTH)...)
	data = append(data, u32(3, p.Offset)...)
	data = append(data, u32(4, p.Len)...)
	var inner []byte
	inner = append(inner, u32(udataTypeofExpr, exprPayload)...)
	inner = append(inner, udataTypeofData, byte(len(data)))
	inner = append(inner, data...)
	return append([]byte{udataSetKeyTypeof, byte(len(inner))}, inner...)
}

// tokenSetObj returns a set keyed by a raw payload field, as nft creates it
// from "typeof @th,64,128; flags dynamic,timeout": a big-endian integer key
// of the field's length.
func tokenSetObj(tbl *nftables.Table, s *ruleset.Set) *nftables.Set {
	key := nftables.SetDatatype{Name: "integer", Bytes: s.Typeof.Len / 8}
	key.SetNFTMagic(nftables.TypeInteger.GetNFTMagic())
	return &nftables.Set{
		Table:        tbl,
		Name:         s.Name,
		KeyType:      key,
		KeyByteOrder: binaryutil.BigEndian,
		Dynamic:      true,
		HasTimeout:   true,
		Timeout:      s.Timeout,
		Size:         s.Size,
	}
}

// addSet queues s in n: through AddSet, and for a token set with nft's
// typeof userdata added to the queued message; id is its ID in the batch.
func addSet(n *nftables.Conn, tbl *nftables.Table, s *ruleset.Set, id uint32) error {
	obj := SetObj(tbl, s)
	if s.Typeof != nil {
		obj = tokenSetObj(tbl, s)
	}
	obj.ID = id // never the library's global counter (see planOps)
	if s.Typeof == nil {
		// AddSet fails only for constant or interval sets with bad
		// elements; knockc's sets have neither.
		return n.AddSet(obj, nil)
	}
	if err := n.AddSet(obj, nil); err != nil {
		return err
	}
	return addTypeof(n, s.Name, typeofUserData(*s.Typeof))
}

// queued returns n's queued batch messages. google/nftables keeps them in
// an unexported field; this is the one place knockc reaches into it, and
// TestTypeofUserData fails should a new version move it.
func queued(n *nftables.Conn) (*[]netlink.Message, error) {
	v := reflect.ValueOf(n).Elem().FieldByName("messages")
	if !v.IsValid() || v.Type() != reflect.TypeOf([]netlink.Message(nil)) {
		return nil, fmt.Errorf("google/nftables Conn has no messages field of type []netlink.Message")
	}
	return (*[]netlink.Message)(unsafe.Pointer(v.UnsafeAddr())), nil
}

// typeofSupported reports whether addTypeof can reach google/nftables'
// queued batch.
func typeofSupported() error {
	_, err := queued(&nftables.Conn{})
	return err
}

// addTypeof appends udata to the userdata of the last queued NEWSET
// message, which must create the set named name.
func addTypeof(n *nftables.Conn, name string, udata []byte) error {
	msgs, err := queued(n)
	if err != nil {
		return err
	}
	want := netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_NEWSET)
	for i := len(*msgs) - 1; i >= 0; i-- {
		m := &(*msgs)[i]
		if m.Header.Type != want || len(m.Data) < 4 {
			continue
		}
		attrs, err := netlink.UnmarshalAttributes(m.Data[4:])
		if err != nil {
			return fmt.Errorf("set %q: read queued message: %w", name, err)
		}
		found, isName := false, false
		for j := range attrs {
			switch attrs[j].Type {
			case unix.NFTA_SET_NAME:
				isName = string(attrs[j].Data) == name+"\x00"
			case unix.NFTA_SET_USERDATA:
				// A fresh slice: the decoded one shares the message's
				// bytes. Length is recomputed from Data when zero.
				attrs[j].Data = append(append([]byte(nil), attrs[j].Data...), udata...)
				attrs[j].Length = 0
				found = true
			}
		}
		if !isName {
			return fmt.Errorf("set %q: last queued set is another one", name)
		}
		if !found {
			attrs = append(attrs, netlink.Attribute{Type: unix.NFTA_SET_USERDATA, Data: udata})
		}
		b, err := netlink.MarshalAttributes(attrs)
		if err != nil {
			return fmt.Errorf("set %q: %w", name, err)
		}
		m.Data = append(m.Data[:4:4], b...)
		return nil
	}
	return fmt.Errorf("set %q: no queued set message", name)
}

// isTokenSet reports whether s is keyed as tokenSetObj makes a set: a
// dynamic set with timeouts and a 16-byte integer key. The typeof userdata
// is not read back (google/nftables v0.3.0 drops it), so such a set reads
// as keyed by ruleset.TokenField.
func isTokenSet(s *nftables.Set) bool {
	return s.Dynamic && s.HasTimeout && !s.Anonymous && !s.Constant && !s.Interval && !s.IsMap && !s.Concatenation &&
		s.KeyType.GetNFTMagic() == nftables.TypeInteger.GetNFTMagic() && s.KeyType.Bytes == ruleset.TokenField.Len/8
}
