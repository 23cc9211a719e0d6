package nftkernel

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/google/nftables"
	"github.com/knockc/knockc/ruleset"
)

// Elements returns the addresses in one set of knockc's table with the
// time each has left, in one netlink dump (the key's length tells the
// family). It fails when the set does not exist.
func (c *Conn) Elements(table, set string) ([]ruleset.Element, error) {
	s := &nftables.Set{Name: set, Table: &nftables.Table{Name: table, Family: nftables.TableFamilyINet}}
	elems, err := c.nft.GetSetElements(s)
	if err != nil {
		return nil, fmt.Errorf("read elements of set %q: %w", set, err)
	}
	out := make([]ruleset.Element, 0, len(elems))
	for _, e := range elems {
		f := ruleset.IPv4
		if len(e.Key) == 16 {
			f = ruleset.IPv6
		}
		out = append(out, ParseElement(f, e))
	}
	return out, nil
}

// Move puts addr into set to with the given timeout (restarting it when
// addr is already there: the kernel takes a re-added element's new
// timeout) and takes it out of set from, in one batch: a knocker goes from
// pending to granted in a single step, never in neither set. When from
// does not hold addr (already expired, or served by an earlier event),
// only the add is made.
func (c *Conn) Move(table, from, to string, addr netip.Addr, timeout time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	tbl := &nftables.Table{Name: table, Family: nftables.TableFamilyINet}
	key := []nftables.SetElement{{Key: addr.AsSlice()}}
	add := func() error {
		toSet := &nftables.Set{Table: tbl, Name: to, KeyType: keyType(ruleset.FamilyOf(addr)), HasTimeout: true}
		return c.nft.SetAddElements(toSet, []nftables.SetElement{{Key: addr.AsSlice(), Timeout: timeout}})
	}
	if err := add(); err != nil {
		return fmt.Errorf("move %s to set %q: %w", addr, to, err)
	}
	if from != "" {
		if err := c.nft.SetDeleteElements(&nftables.Set{Table: tbl, Name: from, KeyType: keyType(ruleset.FamilyOf(addr))}, key); err != nil {
			return fmt.Errorf("move %s out of set %q: %w", addr, from, err)
		}
	}
	err := c.nft.Flush()
	if err != nil && from != "" && isNotFound(err) {
		// addr was not in from: the whole batch was rolled back; add alone.
		if err = add(); err == nil {
			err = c.nft.Flush()
		}
	}
	if err != nil {
		return fmt.Errorf("move %s from set %q to %q: %w", addr, from, to, err)
	}
	return nil
}

// Remove takes addr out of set; an address not there is not an error.
func (c *Conn) Remove(table, set string, addr netip.Addr) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	tbl := &nftables.Table{Name: table, Family: nftables.TableFamilyINet}
	s := &nftables.Set{Table: tbl, Name: set, KeyType: keyType(ruleset.FamilyOf(addr))}
	if err := c.nft.SetDeleteElements(s, []nftables.SetElement{{Key: addr.AsSlice()}}); err != nil {
		return fmt.Errorf("remove %s from set %q: %w", addr, set, err)
	}
	if err := c.nft.Flush(); err != nil && !isNotFound(err) {
		return fmt.Errorf("remove %s from set %q: %w", addr, set, err)
	}
	return nil
}
