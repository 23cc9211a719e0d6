package nftkernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/userdata"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// TokenElement is one element of a token set: 16 raw bytes, the time it
// has left, and its comment (only a key's marker has one).
type TokenElement struct {
	Key     [16]byte
	Timeout time.Duration // when adding
	Expires time.Duration // when read back
	Comment string
}

// TokenElements returns the elements of a token set in one dump. It fails
// when the set does not exist.
func (c *Conn) TokenElements(table, set string) ([]TokenElement, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &nftables.Set{Name: set, Table: &nftables.Table{Name: table, Family: nftables.TableFamilyINet}}
	elems, err := c.nft.GetSetElements(s)
	if err != nil {
		return nil, fmt.Errorf("read elements of set %q: %w", set, err)
	}
	out := make([]TokenElement, 0, len(elems))
	for _, e := range elems {
		if len(e.Key) != 16 {
			continue
		}
		out = append(out, TokenElement{Key: [16]byte(e.Key), Expires: e.Expires, Comment: e.Comment})
	}
	return out, nil
}

// TokenAdd is what one batch does to one token set: take out its old
// marker (when it had one) and add new elements, the new marker among them.
type TokenAdd struct {
	Set       string
	DelMarker *[16]byte
	Add       []TokenElement
}

// elementsPerMessage bounds one NEWSETELEM message, as nft splits large
// element lists.
const elementsPerMessage = 512

// AddTokens sends adds in one batch that the kernel commits only if the
// ruleset is still at generation gen (read before the markers were): two
// top-ups racing each other cannot both add the same slots, so a token
// spent between them is never added back. The error wraps ErrConflict
// when another batch was committed first; the caller reads again.
func (c *Conn) AddTokens(table string, gen uint32, adds []TokenAdd) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	tbl := &nftables.Table{Name: table, Family: nftables.TableFamilyINet}
	var ops []op
	for _, a := range adds {
		set := &nftables.Set{Table: tbl, Name: a.Set, KeyType: nftables.SetDatatype{Name: "integer", Bytes: 16}, HasTimeout: true}
		if a.DelMarker != nil {
			key := *a.DelMarker
			ops = append(ops, op{fmt.Sprintf("delete marker of set %q", a.Set), func(n *nftables.Conn) {
				_ = n.SetDeleteElements(set, []nftables.SetElement{{Key: key[:]}})
			}})
		}
		for i := 0; i < len(a.Add); i += elementsPerMessage {
			chunk := a.Add[i:min(i+elementsPerMessage, len(a.Add))]
			elems := make([]nftables.SetElement, len(chunk))
			for j, e := range chunk {
				elems[j] = nftables.SetElement{Key: append([]byte(nil), e.Key[:]...), Timeout: e.Timeout, Comment: e.Comment}
			}
			ops = append(ops, op{fmt.Sprintf("add %d tokens to set %q", len(elems), a.Set), func(n *nftables.Conn) {
				_ = n.SetAddElements(set, elems)
			}})
		}
	}
	if len(ops) == 0 {
		return nil
	}
	if err := c.flushAt(gen, ops); err != nil {
		if errors.Is(err, ErrConflict) {
			return fmt.Errorf("add tokens: %w", err)
		}
		return fmt.Errorf("add tokens to table %q: %w", table, err)
	}
	return nil
}

// TokenElement looks up one element of a token set by its key, with a
// single-element get rather than a dump, and returns nil when the set
// does not hold it. A dump of a large set is not a snapshot: the kernel
// resumes it by counting elements already sent, so elements the garbage
// collector or a spend takes out meanwhile make it skip others. A key's
// high-water marker must never be missed that way (a top-up would then
// start again and could put spent tokens back), so it is looked up by key.
func (c *Conn) TokenElement(table, set string, key [16]byte) (*TokenElement, error) {
	elem, err := netlink.MarshalAttributes([]netlink.Attribute{
		{Type: unix.NLA_F_NESTED | unix.NFTA_SET_ELEM_KEY, Data: mustAttrs(netlink.Attribute{Type: unix.NFTA_DATA_VALUE, Data: key[:]})},
	})
	if err != nil {
		return nil, fmt.Errorf("look up in set %q: %w", set, err)
	}
	data, err := netlink.MarshalAttributes([]netlink.Attribute{
		{Type: unix.NFTA_SET_ELEM_LIST_TABLE, Data: append([]byte(table), 0)},
		{Type: unix.NFTA_SET_ELEM_LIST_SET, Data: append([]byte(set), 0)},
		{Type: unix.NLA_F_NESTED | unix.NFTA_SET_ELEM_LIST_ELEMENTS, Data: mustAttrs(netlink.Attribute{Type: unix.NLA_F_NESTED | unix.NFTA_LIST_ELEM, Data: elem})},
	})
	if err != nil {
		return nil, fmt.Errorf("look up in set %q: %w", set, err)
	}
	cfg := &netlink.Config{}
	if c.ns != nil {
		cfg.NetNS = int(c.ns.Fd())
	}
	nl, err := netlink.Dial(unix.NETLINK_NETFILTER, cfg)
	if err != nil {
		return nil, fmt.Errorf("look up in set %q: %w", set, err)
	}
	defer nl.Close()
	msgs, err := nl.Execute(netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETSETELEM), Flags: netlink.Request | netlink.Acknowledge},
		Data:   append([]byte{unix.NFPROTO_INET, unix.NFNETLINK_V0, 0, 0}, data...),
	})
	if errors.Is(err, unix.ENOENT) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up in set %q: %w", set, err)
	}
	for _, m := range msgs {
		if e, ok := parseGotElement(m.Data); ok && e.Key == key {
			return e, nil
		}
	}
	return nil, nil
}

// mustAttrs marshals attributes whose sizes are known to fit.
func mustAttrs(as ...netlink.Attribute) []byte {
	b, err := netlink.MarshalAttributes(as)
	if err != nil {
		panic(err)
	}
	return b
}

// parseGotElement reads the first element of a NEWSETELEM reply.
func parseGotElement(data []byte) (*TokenElement, bool) {
	if len(data) < 4 {
		return nil, false
	}
	top, err := netlink.UnmarshalAttributes(data[4:])
	if err != nil {
		return nil, false
	}
	for _, a := range top {
		if a.Type&^unix.NLA_F_NESTED != unix.NFTA_SET_ELEM_LIST_ELEMENTS {
			continue
		}
		list, err := netlink.UnmarshalAttributes(a.Data)
		if err != nil || len(list) == 0 {
			return nil, false
		}
		fields, err := netlink.UnmarshalAttributes(list[0].Data)
		if err != nil {
			return nil, false
		}
		var e TokenElement
		gotKey := false
		for _, f := range fields {
			switch f.Type &^ unix.NLA_F_NESTED {
			case unix.NFTA_SET_ELEM_KEY:
				inner, err := netlink.UnmarshalAttributes(f.Data)
				if err == nil && len(inner) == 1 && len(inner[0].Data) == 16 {
					e.Key, gotKey = [16]byte(inner[0].Data), true
				}
			case unix.NFTA_SET_ELEM_EXPIRATION:
				if len(f.Data) == 8 {
					e.Expires = time.Duration(binary.BigEndian.Uint64(f.Data)) * time.Millisecond
				}
			case unix.NFTA_SET_ELEM_USERDATA:
				if s, ok := userdata.GetString(f.Data, userdata.NFTNL_UDATA_SET_ELEM_COMMENT); ok {
					e.Comment = s
				}
			}
		}
		return &e, gotKey
	}
	return nil, false
}
