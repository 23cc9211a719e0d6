package nftkernel

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/nftables"
	"github.com/knockc/knockc/ruleset"
)

// OwnerChain is the chain that marks a table as knockc's. It is a regular
// chain nothing jumps to, holding one rule, `return`, whose comment records
// the spec the table was applied from and when:
//
//	chain knockc_owner {
//		return comment "knockc owner spec=sha256:3f1c… applied=2026-12-01T09:41:09.123Z"
//	}
//
// A rule comment is rule userdata, which both google/nftables and nft
// 1.0.6 carry unchanged (nft -f of `nft list table` keeps it), so the mark
// survives every tool that copies the table; a table object has no field
// the kernel lets an update change. No door's chain can take this name:
// door chains end in _open, _close or _gate. See docs/fail-closed.md.
const OwnerChain = "knockc_owner"

// ownerPrefix starts the marker rule's comment.
const ownerPrefix = "knockc owner "

// Owner is what a knockc table records about the spec it came from.
type Owner struct {
	// Spec is "sha256:" and the hex SHA-256 of the ruleset the spec
	// compiles to (ruleset.Render of the table without elements): specs
	// that differ only in comments or layout have the same Spec.
	Spec string
	// Applied is when that spec was applied (by knockc apply or a monitor).
	Applied time.Time
}

// NewOwner returns the mark for applying want now.
func NewOwner(want *ruleset.Table) Owner {
	return Owner{Spec: SpecHash(want), Applied: time.Now().UTC()}
}

// SpecHash returns the Spec of an Owner for t.
func SpecHash(t *ruleset.Table) string {
	c := *t
	c.Sets = make([]*ruleset.Set, len(t.Sets))
	for i, s := range t.Sets {
		s2 := *s
		s2.Elements = nil
		c.Sets[i] = &s2
	}
	sum := sha256.Sum256([]byte(ruleset.Render(&c)))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// String returns the marker rule's comment for o.
func (o Owner) String() string {
	return ownerPrefix + "spec=" + o.Spec + " applied=" + o.Applied.UTC().Format(time.RFC3339Nano)
}

// Known reports whether o names a spec (a flushed marker chain does not).
func (o Owner) Known() bool { return o.Spec != "" }

// parseOwner reads the marker rule's comment; ok is false when it is not one.
func parseOwner(comment string) (o Owner, ok bool) {
	rest, found := strings.CutPrefix(comment, ownerPrefix)
	if !found {
		return Owner{}, false
	}
	for _, f := range strings.Fields(rest) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "spec":
			o.Spec = v
		case "applied":
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return Owner{}, false
			}
			o.Applied = t
		}
	}
	return o, o.Spec != ""
}

// Ownership is what the kernel says about whose table a name holds.
type Ownership int

const (
	// Absent: no table of that name; knockc may create it.
	Absent Ownership = iota
	// Owned: the table carries knockc's marker chain.
	Owned
	// Foreign: the table exists without knockc's marker chain: some other
	// tool (or a hand) made it, and knockc leaves it alone unless adopted.
	Foreign
)

// ErrNotOwned is wrapped by every refusal to change a table knockc did
// not create.
var ErrNotOwned = errors.New("table was not created by knockc")

// NotOwnedError says which table and how to override.
func NotOwnedError(table, what string) error {
	return fmt.Errorf("%s table inet %q: %w (it has no %s chain); knockc changes only tables it created. If this really is knockc's table (applied by an older knockc), take it over with --adopt; to replace or delete another tool's table anyway, use --force",
		what, table, ErrNotOwned, OwnerChain)
}

// ReadOwned is ReadConfig that also reports the table's ownership and,
// when owned, its mark (Owner.Known is false when the marker chain was
// flushed). The marker chain itself is not part of the returned table.
func (c *Conn) ReadOwned(table string) (*ruleset.Table, Ownership, Owner, error) {
	t, mark, err := c.readTable(table)
	switch {
	case err != nil:
		return nil, Absent, Owner{}, err
	case t == nil:
		return nil, Absent, Owner{}, nil
	case mark == nil:
		return t, Foreign, Owner{}, nil
	}
	return t, Owned, *mark, nil
}

// markerOwner turns the marker chain's rules into the mark they hold.
func markerOwner(rules []*nftables.Rule) *Owner {
	for _, r := range rules {
		if o, ok := parseOwner(ruleComment(r.UserData)); ok {
			return &o
		}
	}
	return &Owner{}
}

// markOps are the operations that write mark into table's marker chain,
// appended to every apply's transaction: the chain is created if missing,
// emptied, and given its one rule, "return comment MARK".
func markOps(table string, mark Owner) []ruleset.Op {
	return []ruleset.Op{
		{Verb: ruleset.VerbAdd, Kind: ruleset.KindChain, Table: table, Name: OwnerChain},
		{Verb: ruleset.VerbFlush, Kind: ruleset.KindChain, Table: table, Name: OwnerChain},
		{Verb: ruleset.VerbAdd, Kind: ruleset.KindRule, Table: table, Name: OwnerChain, Index: 1,
			Rule: &ruleset.Rule{Stmts: []ruleset.Stmt{ruleset.Verdict{Kind: ruleset.VerdictReturn}}, Comment: mark.String()}},
	}
}
