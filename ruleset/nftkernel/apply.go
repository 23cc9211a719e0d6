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
// netlink batch. Chains and rules are config and are rewritten whole; a
// set whose definition is unchanged is left alone, so its elements (knocks
// in progress, live grants) survive; a changed set is deleted and created
// again in the same batch. When Diff(want, have) is empty nothing is sent.
// If the kernel rejects the batch it changes nothing, and the error names
// the first object it refused (see diagnose).
func (c *Conn) Apply(want, have *ruleset.Table) (err error) {
	if ruleset.Diff(want, have).Empty() {
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
	ops, err := planOps(want, have, queue)
	if err != nil {
		return fmt.Errorf("apply table %q: %w", want.Name, err)
	}
	ops = append(ops, markOps(TableObj(want), NewOwner(want))...) // owner.go
	for _, o := range ops {
		o.do(c.nft)
	}
	if err := c.nft.Flush(); err != nil {
		if !isRejection(err) {
			// The batch may or may not have been committed: say so, and
			// let the operator look (plan shows what is there now).
			return fmt.Errorf("apply table %q: talking to the kernel failed; run knockc plan to see what is in place: %w", want.Name, err)
		}
		return fmt.Errorf("apply table %q: kernel rejected the batch, nothing changed: %s: %w", want.Name, c.diagnose(ops), err)
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

// op is one message of an apply batch, labelled for error messages.
type op struct {
	label string
	do    func(*nftables.Conn)
}

// planOps lists the batch that takes the kernel from have to want, in the
// order nft itself uses: flush the chains that hold references, delete
// what goes away or changes shape, then add sets, chains and, last, rules.
func planOps(want, have *ruleset.Table, queue QueueMode) ([]op, error) {
	tbl := TableObj(want)
	ops := []op{{"table " + want.Name, func(n *nftables.Conn) { n.AddTable(tbl) }}}
	add := func(label string, do func(*nftables.Conn)) { ops = append(ops, op{label, do}) }
	if have != nil {
		for _, h := range have.Chains {
			ch := &nftables.Chain{Name: h.Name, Table: tbl}
			add(fmt.Sprintf("flush chain %q", h.Name), func(n *nftables.Conn) { n.FlushChain(ch) })
		}
		for _, h := range have.Chains {
			if w := want.Chain(h.Name); w == nil || !sameHook(w.Hook, h.Hook) {
				ch := &nftables.Chain{Name: h.Name, Table: tbl}
				add(fmt.Sprintf("delete chain %q", h.Name), func(n *nftables.Conn) { n.DelChain(ch) })
			}
		}
		for _, h := range have.Sets {
			if w := want.Set(h.Name); w == nil || !w.SameDefinition(h) {
				s := &nftables.Set{Name: h.Name, Table: tbl}
				add(fmt.Sprintf("delete set %q", h.Name), func(n *nftables.Conn) { n.DelSet(s) })
			}
		}
	}
	var setID uint32
	for _, w := range want.Sets {
		if have != nil {
			if h := have.Set(w.Name); h != nil && w.SameDefinition(h) {
				continue
			}
		}
		if w.Typeof != nil {
			if err := typeofSupported(); err != nil {
				return nil, fmt.Errorf("set %q: %w", w.Name, err)
			}
		}
		// A set's ID names it within the batch (NFTA_SET_ID). Giving
		// every new set its own here keeps google/nftables v0.3.0 from
		// numbering it with its unguarded package-level counter, a data
		// race between connections (docs/design.md, library facts).
		setID++
		id := setID
		add(fmt.Sprintf("set %q", w.Name), func(n *nftables.Conn) {
			// Fails only for what typeofSupported has ruled out.
			_ = addSet(n, tbl, w, id)
		})
	}
	chains := map[string]*nftables.Chain{}
	for _, w := range want.Chains {
		ch, err := ChainObj(tbl, w)
		if err != nil {
			return nil, err
		}
		chains[w.Name] = ch
		add(fmt.Sprintf("chain %q", w.Name), func(n *nftables.Conn) { n.AddChain(ch) })
	}
	for _, w := range want.Chains {
		for i, r := range w.Rules {
			exprs, err := ruleExprs(r, queue)
			if err != nil {
				return nil, fmt.Errorf("chain %q: %w", w.Name, err)
			}
			rule := &nftables.Rule{Table: tbl, Chain: chains[w.Name], Exprs: exprs, UserData: RuleUserData(r.Comment)}
			label := fmt.Sprintf("chain %q rule %d %q", w.Name, i+1, r.String())
			add(label, func(n *nftables.Conn) { n.AddRule(rule) })
		}
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

// diagnose finds the first operation of a rejected batch: it replays
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
		return "the failing object could not be found"
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
	return "at " + ops[hi-1].label
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

func sameHook(a, b *ruleset.Hook) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
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
