package nftkernel

import (
	"fmt"

	"github.com/google/nftables"
	"github.com/knockc/knockc/ruleset"
)

// Read returns knockc's table as it is in the kernel, set elements
// included, or nil when the table does not exist. Other tables are never
// read.
func (c *Conn) Read(table string) (*ruleset.Table, error) {
	tbl, err := c.nft.ListTableOfFamily(table, nftables.TableFamilyINet)
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("read table %q: %w", table, err)
	}
	t := &ruleset.Table{Name: table}
	sets, err := c.nft.GetSets(tbl)
	if err != nil {
		return nil, fmt.Errorf("read sets of table %q: %w", table, err)
	}
	for _, s := range sets {
		ms := ParseSet(s)
		elems, err := c.nft.GetSetElements(s)
		if err != nil {
			return nil, fmt.Errorf("read elements of set %q: %w", s.Name, err)
		}
		for _, e := range elems {
			ms.Elements = append(ms.Elements, ParseElement(ms.Family, e))
		}
		t.Sets = append(t.Sets, ms)
	}
	chains, err := c.nft.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return nil, fmt.Errorf("read chains of table %q: %w", table, err)
	}
	for _, ch := range chains {
		if ch.Table == nil || ch.Table.Name != table {
			continue
		}
		mc := ParseChain(ch)
		rules, err := c.nft.GetRules(tbl, ch)
		if err != nil {
			return nil, fmt.Errorf("read rules of chain %q: %w", ch.Name, err)
		}
		for _, r := range rules {
			mc.Rules = append(mc.Rules, ParseRule(r.Exprs, r.UserData))
		}
		t.Chains = append(t.Chains, mc)
	}
	return t, nil
}
