package nftkernel

import (
	"fmt"

	"github.com/google/nftables"
	"github.com/knockc/knockc/ruleset"
)

// Apply brings knockc's table from have (nil: absent) to want in one
// netlink batch. Chains and rules are config and are rewritten whole; a
// set whose definition is unchanged is left alone, so its elements (knocks
// in progress, live grants) survive; a changed set is deleted and created
// again in the same batch. When Diff(want, have) is empty nothing is sent.
// If the kernel rejects the batch it changes nothing, and the error says
// which object it refused.
func (c *Conn) Apply(want, have *ruleset.Table) error {
	if ruleset.Diff(want, have).Empty() {
		return nil
	}
	b := &batch{tbl: TableObj(want)}
	c.nft.AddTable(b.tbl)
	if have != nil {
		// Flush first: rules hold references to chains and sets that the
		// rest of the batch may delete.
		for _, h := range have.Chains {
			c.nft.FlushChain(&nftables.Chain{Name: h.Name, Table: b.tbl})
		}
		for _, h := range have.Chains {
			w := want.Chain(h.Name)
			if w == nil || !sameHook(w.Hook, h.Hook) {
				c.nft.DelChain(&nftables.Chain{Name: h.Name, Table: b.tbl})
			}
		}
		for _, h := range have.Sets {
			if w := want.Set(h.Name); w == nil || !w.SameDefinition(h) {
				c.nft.DelSet(&nftables.Set{Name: h.Name, Table: b.tbl})
			}
		}
	}
	for _, w := range want.Sets {
		if have != nil {
			if h := have.Set(w.Name); h != nil && w.SameDefinition(h) {
				continue
			}
		}
		if err := c.nft.AddSet(SetObj(b.tbl, w), nil); err != nil {
			return fmt.Errorf("apply table %q: set %q: %w", want.Name, w.Name, err)
		}
		b.note("set " + w.Name)
	}
	chains := map[string]*nftables.Chain{}
	for _, w := range want.Chains {
		ch, err := ChainObj(b.tbl, w)
		if err != nil {
			return fmt.Errorf("apply table %q: %w", want.Name, err)
		}
		chains[w.Name] = c.nft.AddChain(ch)
		b.note("chain " + w.Name)
	}
	for _, w := range want.Chains {
		for _, r := range w.Rules {
			exprs, err := RuleExprs(r)
			if err != nil {
				return fmt.Errorf("apply table %q: chain %q: %w", want.Name, w.Name, err)
			}
			c.nft.AddRule(&nftables.Rule{Table: b.tbl, Chain: chains[w.Name], Exprs: exprs, UserData: RuleUserData(r.Comment)})
		}
	}
	if err := c.nft.Flush(); err != nil {
		return fmt.Errorf("apply table %q: kernel rejected the batch, nothing changed: %w", want.Name, err)
	}
	return nil
}

// Delete removes knockc's table in one batch; it is not an error when the
// table is already gone. Established sessions are not cut: conntrack keeps
// them and nothing else drops them.
func (c *Conn) Delete(table string) error {
	c.nft.DelTable(&nftables.Table{Name: table, Family: nftables.TableFamilyINet})
	if err := c.nft.Flush(); err != nil && !isNotFound(err) {
		return fmt.Errorf("delete table %q: %w", table, err)
	}
	return nil
}

// batch tracks what one apply sends, for error messages.
type batch struct {
	tbl  *nftables.Table
	objs []string
}

func (b *batch) note(obj string) { b.objs = append(b.objs, obj) }

func sameHook(a, b *ruleset.Hook) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
