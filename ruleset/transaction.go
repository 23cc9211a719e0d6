package ruleset

import (
	"fmt"
	"strings"
)

// Verb is what an operation of a transaction does to its object, in nft's
// words.
type Verb string

// The verbs of knockc's transactions.
const (
	VerbAdd    Verb = "add"    // create the object, or leave an identical one alone
	VerbFlush  Verb = "flush"  // empty a chain of its rules
	VerbDelete Verb = "delete" // remove the object
)

// Op is one operation of a transaction: a verb and the object it acts on.
// The list of them that Transaction returns is what `knockc plan` shows
// and what `knockc apply` sends, in that order, as one netlink batch;
// String writes it in nft syntax, so the list read as text is an `nft -f`
// script that does the same.
type Op struct {
	Verb  Verb
	Kind  ObjectKind // table, set, chain or rule
	Table string
	// Name is the set's or chain's name; for a rule, its chain's.
	Name string
	// Set is the definition an add of a set creates.
	Set *Set
	// Hook is the hook an add of a base chain creates it with; nil for a
	// regular chain. An added chain's rules are operations of their own.
	Hook *Hook
	// Rule is the rule an add of a rule appends, Index its place in the
	// chain from 1 (for messages).
	Rule  *Rule
	Index int
}

// String returns the operation in nft syntax:
//
//	add table inet knockc
//	flush chain inet knockc input
//	delete set inet knockc ssh_grant_v4
//	add set inet knockc ssh_grant_v4 { type ipv4_addr; size 1024; flags dynamic,timeout; timeout 1m; }
//	add chain inet knockc input { type filter hook input priority mangle; policy accept; }
//	add rule inet knockc input ct state established,related accept comment "role=established"
func (o Op) String() string {
	head := fmt.Sprintf("%s %s inet %s", o.Verb, o.Kind, o.Table)
	if o.Kind == KindTable {
		return head
	}
	head += " " + o.Name
	switch {
	case o.Verb != VerbAdd:
		return head
	case o.Kind == KindSet && o.Set != nil:
		return head + " " + inline(o.Set.Block(""))
	case o.Kind == KindChain && o.Hook != nil:
		return head + " { " + o.Hook.String() + " }"
	case o.Kind == KindRule && o.Rule != nil:
		return head + " " + o.Rule.String()
	}
	return head
}

// inline turns a rendered block ("set x {\n\ttype …\n}\n") into its body
// on one line: "{ type …; size …; }".
func inline(block string) string {
	lines := strings.Split(strings.TrimRight(block, "\n"), "\n")
	var parts []string
	for _, l := range lines[1 : len(lines)-1] {
		parts = append(parts, strings.TrimSpace(l)+";")
	}
	return "{ " + strings.Join(parts, " ") + " }"
}

// Transaction returns the operations that take the kernel from have (nil:
// absent) to want, in the order nft itself uses: add the table, flush the
// chains present (they hold references to sets and chains), delete the
// chains that go away or change hook, delete the sets that go away or
// change definition (a set cannot change in place; its elements are lost),
// then add the sets that are new or changed, every chain and, last, every
// rule. Chains and rules are config, rewritten whole; a set whose
// definition is unchanged is not touched, so its elements (knocks in
// progress, live grants) survive. With want nil the transaction deletes
// the table. Transaction never fails, and returns no operation when
// Diff(want, have) is empty; it is Diff(want, have).Ops.
func Transaction(want, have *Table) []Op { return Diff(want, have).Ops }

// transaction is Transaction for a plan that is not empty.
func transaction(want, have *Table) []Op {
	if want == nil {
		return []Op{{Verb: VerbDelete, Kind: KindTable, Table: have.Name}}
	}
	t := want.Name
	ops := []Op{{Verb: VerbAdd, Kind: KindTable, Table: t}}
	if have != nil {
		for _, h := range have.Chains {
			ops = append(ops, Op{Verb: VerbFlush, Kind: KindChain, Table: t, Name: h.Name})
		}
		for _, h := range have.Chains {
			if w := want.Chain(h.Name); w == nil || !sameHook(w.Hook, h.Hook) {
				ops = append(ops, Op{Verb: VerbDelete, Kind: KindChain, Table: t, Name: h.Name})
			}
		}
		for _, h := range have.Sets {
			if w := want.Set(h.Name); w == nil || !w.SameDefinition(h) {
				ops = append(ops, Op{Verb: VerbDelete, Kind: KindSet, Table: t, Name: h.Name})
			}
		}
	}
	for _, w := range want.Sets {
		if have != nil {
			if h := have.Set(w.Name); h != nil && w.SameDefinition(h) {
				continue
			}
		}
		ops = append(ops, Op{Verb: VerbAdd, Kind: KindSet, Table: t, Name: w.Name, Set: w})
	}
	for _, w := range want.Chains {
		ops = append(ops, Op{Verb: VerbAdd, Kind: KindChain, Table: t, Name: w.Name, Hook: w.Hook})
	}
	for _, w := range want.Chains {
		for i, r := range w.Rules {
			ops = append(ops, Op{Verb: VerbAdd, Kind: KindRule, Table: t, Name: w.Name, Rule: r, Index: i + 1})
		}
	}
	return ops
}

// Script returns ops as text, one operation a line: what `knockc plan
// --operations` prints, and an `nft -f` script that does what the batch
// does.
func Script(ops []Op) string {
	var b strings.Builder
	for _, o := range ops {
		b.WriteString(o.String())
		b.WriteString("\n")
	}
	return b.String()
}

// sameHook reports whether two chains hook in alike (both regular, or the
// same hook, type, priority and policy).
func sameHook(a, b *Hook) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
