package nftkernel

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/nftables"
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
