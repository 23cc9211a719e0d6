package nftkernel

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/nftables"
	"github.com/knockc/knockc/ruleset"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Apply brings knockc's table from have (nil: absent) to want in one
// netlink batch: exactly the operations of Diff(want, have).Ops
// (ruleset.Transaction), then knockc's marker (owner.go). Chains and rules
// are config and are rewritten whole; a set whose definition is unchanged
// is left alone, so its elements (knocks in progress, live grants)
// survive; a changed set is deleted and created again in the same batch.
// When the plan is empty nothing is sent. A failed batch is an
// *ApplyError: rejected (nothing changed; it names the refused operation)
// or a socket failure (state unknown).
func (c *Conn) Apply(want, have *ruleset.Table) (err error) {
	plan := ruleset.Diff(want, have)
	if plan.Empty() {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	queue := QueueNative
	if usesQueue(want) {
		if queue, err = c.QueueMode(); err != nil {
			return fmt.Errorf("apply table %q: %w", want.Name, err)
		}
	}
	ops, err := batch(want, append(plan.Ops, markOps(want.Name, NewOwner(want))...), queue) // owner.go
	if err != nil {
		return fmt.Errorf("apply table %q: %w", want.Name, err)
	}
	for _, o := range ops {
		o.do(c.nft)
	}
	if err := c.nft.Flush(); err != nil {
		return applyError(want.Name, err, func() string { return c.diagnose(ops) })
	}
	return c.seed(want, plan)
}

// seed fills each set the plan created or replaced that names SeedFrom
// sets with their current elements, in one more batch. It runs after the
// apply's batch, so a source that knocks in between is noted by the
// rules themselves. Sets the batch created or recreated are empty and not
// read, so a first apply reads nothing.
func (c *Conn) seed(want *ruleset.Table, plan *ruleset.Plan) error {
	created := map[string]bool{}
	for _, ch := range plan.Changes {
		if ch.Kind == ruleset.KindSet && (ch.Action == ruleset.Create || ch.Action == ruleset.Replace) {
			created[ch.Name] = true
		}
	}
	tbl := &nftables.Table{Name: want.Name, Family: nftables.TableFamilyINet}
	n := 0
	for _, s := range want.Sets {
		if !created[s.Name] || len(s.SeedFrom) == 0 {
			continue
		}
		var elems []nftables.SetElement
		for _, from := range s.SeedFrom {
			if created[from] {
				continue // new or recreated by this batch: empty
			}
			got, err := c.Elements(want.Name, from)
			if err != nil {
				return fmt.Errorf("apply table %q: seed set %q: %w", want.Name, s.Name, err)
			}
			for _, e := range got {
				if e.Addr.IsValid() && ruleset.FamilyOf(e.Addr) == s.Family {
					elems = append(elems, nftables.SetElement{Key: e.Addr.AsSlice(), Timeout: s.Timeout})
				}
			}
		}
		if len(elems) == 0 {
			continue
		}
		set := &nftables.Set{Table: tbl, Name: s.Name, KeyType: keyType(s.Family)}
		if err := c.nft.SetAddElements(set, elems); err != nil {
			return fmt.Errorf("apply table %q: seed set %q: %w", want.Name, s.Name, err)
		}
		n += len(elems)
	}
	if n == 0 {
		return nil
	}
	if err := c.nft.Flush(); err != nil {
		return fmt.Errorf("apply table %q: seed %d mid-sequence sources: %w", want.Name, n, err)
	}
	return nil
}

// isRejection reports whether a failed Flush is the kernel refusing the
// batch (an error ack, after which it rolled everything back), rather than
// the socket failing to carry the batch or its acks.
func isRejection(err error) bool {
	var op *netlink.OpError
	if !errors.As(err, &op) {
		return false
	}
	return op.Op == "receive" && !errors.Is(err, unix.ENOBUFS)
}

// op is one message of an apply batch, labelled for error messages: for
// the operations of a transaction, the operation in nft syntax.
type op struct {
	label string
	do    func(*nftables.Conn)
}

// planOps is batch of the transaction that takes the kernel from have to
// want (ruleset.Transaction).
func planOps(want, have *ruleset.Table, queue QueueMode) ([]op, error) {
	return batch(want, ruleset.Transaction(want, have), queue)
}

// batch turns the operations of a transaction on table want into the
// messages of one netlink batch, one per operation and in the same order,
// each labelled with the operation's text. It fails on an operation whose
// object cannot be sent (see ChainObj and RuleExprs) or that knockc never
// plans (deleting a rule, say).
func batch(want *ruleset.Table, plan []ruleset.Op, queue QueueMode) ([]op, error) {
	tbl := TableObj(want)
	chains := map[string]*nftables.Chain{}
	chain := func(name string) *nftables.Chain {
		if ch := chains[name]; ch != nil {
			return ch
		}
		return &nftables.Chain{Name: name, Table: tbl}
	}
	var setID uint32
	ops := make([]op, 0, len(plan))
	for _, o := range plan {
		o := o
		var do func(*nftables.Conn)
		switch {
		case o.Kind == ruleset.KindTable && o.Verb == ruleset.VerbAdd:
			do = func(n *nftables.Conn) { n.AddTable(tbl) }
		case o.Kind == ruleset.KindTable && o.Verb == ruleset.VerbDelete:
			do = func(n *nftables.Conn) { n.DelTable(tbl) }
		case o.Kind == ruleset.KindChain && o.Verb == ruleset.VerbFlush:
			ch := chain(o.Name)
			do = func(n *nftables.Conn) { n.FlushChain(ch) }
		case o.Kind == ruleset.KindChain && o.Verb == ruleset.VerbDelete:
			ch := chain(o.Name)
			do = func(n *nftables.Conn) { n.DelChain(ch) }
		case o.Kind == ruleset.KindSet && o.Verb == ruleset.VerbDelete:
			s := &nftables.Set{Name: o.Name, Table: tbl}
			do = func(n *nftables.Conn) { n.DelSet(s) }
		case o.Kind == ruleset.KindSet && o.Verb == ruleset.VerbAdd && o.Set != nil:
			if o.Set.Typeof != nil {
				if err := typeofSupported(); err != nil {
					return nil, fmt.Errorf("set %q: %w", o.Name, err)
				}
			}
			// A set's ID names it within the batch (NFTA_SET_ID). Giving
			// every new set its own here keeps google/nftables v0.3.0 from
			// numbering it with its unguarded package-level counter, a data
			// race between connections (docs/design.md, library facts).
			setID++
			id, w := setID, o.Set
			do = func(n *nftables.Conn) {
				// Fails only for what typeofSupported has ruled out.
				_ = addSet(n, tbl, w, id)
			}
		case o.Kind == ruleset.KindChain && o.Verb == ruleset.VerbAdd:
			ch, err := ChainObj(tbl, &ruleset.Chain{Name: o.Name, Hook: o.Hook})
			if err != nil {
				return nil, err
			}
			chains[o.Name] = ch
			do = func(n *nftables.Conn) { n.AddChain(ch) }
		case o.Kind == ruleset.KindRule && o.Verb == ruleset.VerbAdd && o.Rule != nil:
			exprs, err := ruleExprs(o.Rule, queue)
			if err != nil {
				return nil, fmt.Errorf("chain %q: %w", o.Name, err)
			}
			rule := &nftables.Rule{Table: tbl, Chain: chain(o.Name), Exprs: exprs, UserData: RuleUserData(o.Rule.Comment)}
			do = func(n *nftables.Conn) { n.AddRule(rule) }
		default:
			return nil, fmt.Errorf("operation %q: knockc does not send it", o)
		}
		ops = append(ops, op{o.String(), do})
	}
	return ops, nil
}

// Delete removes knockc's table in one batch; it is not an error when the
// table is already gone. Established sessions are not cut: conntrack keeps
// them and nothing else drops them.
func (c *Conn) Delete(table string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nft.DelTable(&nftables.Table{Name: table, Family: nftables.TableFamilyINet})
	if err := c.nft.Flush(); err != nil && !isNotFound(err) {
		return fmt.Errorf("delete table %q: %w", table, err)
	}
	return nil
}

// sentinelTable never exists; deleting it makes a probe batch fail for
// sure, so the kernel checks the batch and then throws it away.
const sentinelTable = "knockc_probe_no_such_table"

// diagnose returns the label of the first operation of a rejected batch
// ("" when it cannot be found): it replays
// prefixes of ops, each followed by a message that is sure to fail so the
// kernel validates the prefix and aborts it, and bisects on whether the
// prefix alone already draws an error. It costs about log2(len(ops))
// aborted batches and is only run after a failure.
func (c *Conn) diagnose(ops []op) string {
	fails := func(n int) bool {
		nft, err := nftables.New(c.connOpts()...)
		if err != nil {
			return false
		}
		for _, o := range ops[:n] {
			o.do(nft)
		}
		nft.DelTable(&nftables.Table{Name: sentinelTable, Family: nftables.TableFamilyINet})
		return errorCount(nft.Flush()) > 1
	}
	if !fails(len(ops)) {
		return ""
	}
	lo, hi := 0, len(ops) // fails(hi) holds, fails(lo) does not
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if fails(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return ops[hi-1].label
}

// errorCount returns how many errors err joins.
func errorCount(err error) int {
	if err == nil {
		return 0
	}
	n := 0
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		if w, ok := e.(interface{ Unwrap() error }); ok && w.Unwrap() != nil && strings.HasPrefix(e.Error(), "conn.Receive") {
			walk(w.Unwrap())
			return
		}
		n++
	}
	walk(err)
	return n
}

// Ensure applies want when knockc's table is missing from the kernel (a
// `nft flush ruleset` by the host's firewall service, say) and reports
// whether it did. A table that is there is left as it is, drifted or not.
func (c *Conn) Ensure(want *ruleset.Table) (bool, error) {
	have, err := c.ReadConfig(want.Name)
	if err != nil || have != nil {
		return false, err
	}
	return true, c.Apply(want, nil)
}
