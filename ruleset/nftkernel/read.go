package nftkernel

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/nftables"
	"github.com/knockc/knockc/ruleset"
	"golang.org/x/sys/unix"
)

// Read returns knockc's table as it is in the kernel, set elements
// included, or nil when the table does not exist. Other tables are never
// read.
func (c *Conn) Read(table string) (*ruleset.Table, error) {
	t, err := c.ReadConfig(table)
	if err != nil || t == nil {
		return t, err
	}
	var names []string
	for _, s := range t.Sets {
		names = append(names, s.Name)
	}
	return t, c.FillElements(t, names)
}

// Plan reads knockc's table and diffs want against it. Set elements are
// read only for the sets the plan recreates or destroys, to count the live
// entries it resets: a plan of a large, unchanged table costs one dump per
// chain and one of the sets. It returns the plan and the table read (nil
// when absent).
func (c *Conn) Plan(want *ruleset.Table) (*ruleset.Plan, *ruleset.Table, error) {
	have, err := c.ReadConfig(want.Name)
	if err != nil {
		return nil, nil, err
	}
	plan, err := c.planAgainst(want, have)
	return plan, have, err
}

// planAgainst diffs want against have (read without elements), reading the
// elements of the sets the plan resets so that it can count them.
func (c *Conn) planAgainst(want, have *ruleset.Table) (*ruleset.Plan, error) {
	plan := ruleset.Diff(want, have)
	var lossy []string
	for _, ch := range plan.Changes {
		if ch.Kind == ruleset.KindSet && ch.Action != ruleset.Create {
			lossy = append(lossy, ch.Name)
		}
	}
	if len(lossy) > 0 {
		if err := c.FillElements(have, lossy); err != nil {
			return nil, err
		}
		plan = ruleset.Diff(want, have)
	}
	return plan, nil
}

// ReadConfig is Read without set elements: the definition of every set,
// chain and rule, which is all an apply compares. knockc's marker chain
// (OwnerChain) is left out; ReadOwned reports it.
func (c *Conn) ReadConfig(table string) (*ruleset.Table, error) {
	t, _, err := c.readTable(table)
	return t, err
}

// readTable is ReadConfig that also returns the table's mark, nil when it
// has no marker chain. The table is read in several dumps (table, sets,
// chains, each chain's rules); a commit between two of them would give a
// torn view (a table without its marker chain looks foreign), so the read
// counts only when the ruleset generation is the same before and after
// it, and is made again otherwise. A dump that a commit interrupted
// (EBUSY: the kernel flags it NLM_F_DUMP_INTR) is made again too.
func (c *Conn) readTable(table string) (*ruleset.Table, *Owner, error) {
	for try := 1; ; try++ {
		before, err := c.Generation()
		if err != nil {
			return nil, nil, err
		}
		t, mark, err := c.readTableOnce(table)
		if err == nil {
			after, gerr := c.Generation()
			if gerr != nil {
				return nil, nil, gerr
			}
			if after == before || try == 10 {
				return t, mark, nil
			}
		} else if !errors.Is(err, unix.EBUSY) || try == 10 {
			return t, mark, err
		}
		time.Sleep(time.Duration(try) * time.Millisecond)
	}
}

func (c *Conn) readTableOnce(table string) (*ruleset.Table, *Owner, error) {
	tbl, err := c.nft.ListTableOfFamily(table, nftables.TableFamilyINet)
	if err != nil {
		if isNotFound(err) {
			return nil, nil, nil
		}
		return nil, nil, fmt.Errorf("read table %q: %w", table, err)
	}
	var mark *Owner
	t := &ruleset.Table{Name: table}
	sets, err := c.nft.GetSets(tbl)
	if err != nil {
		return nil, nil, fmt.Errorf("read sets of table %q: %w", table, err)
	}
	for _, s := range sets {
		t.Sets = append(t.Sets, ParseSet(s))
	}
	chains, err := c.nft.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return nil, nil, fmt.Errorf("read chains of table %q: %w", table, err)
	}
	for _, ch := range chains {
		if ch.Table == nil || ch.Table.Name != table {
			continue
		}
		rules, err := c.nft.GetRules(tbl, ch)
		if err != nil {
			return nil, nil, fmt.Errorf("read rules of chain %q: %w", ch.Name, err)
		}
		if ch.Name == OwnerChain {
			mark = markerOwner(rules)
			continue
		}
		mc := ParseChain(ch)
		for _, r := range rules {
			mc.Rules = append(mc.Rules, ParseRule(r.Exprs, r.UserData))
		}
		t.Chains = append(t.Chains, mc)
	}
	return t, mark, nil
}

// FillElements reads the elements of the named sets of t.
func (c *Conn) FillElements(t *ruleset.Table, names []string) error {
	for _, name := range names {
		s := t.Set(name)
		if s == nil {
			continue
		}
		elems, err := c.Elements(t.Name, name)
		if err != nil {
			return err
		}
		s.Elements = elems
	}
	return nil
}
