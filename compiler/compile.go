package compiler

import (
	"fmt"

	"github.com/knockc/knockc/ruleset"
)

// Compile turns a validated spec into knockc's table. It is deterministic:
// the same spec always gives the same model, in the same order.
func Compile(spec *Spec) *ruleset.Table {
	t := &ruleset.Table{Name: spec.Table.Name}
	input := &ruleset.Chain{Name: InputChain, Hook: &ruleset.Hook{
		Type: ruleset.ChainFilter, Hook: ruleset.HookInput, Priority: spec.Table.Priority, Policy: ruleset.PolicyAccept,
	}}
	input.Rules = inputRules(spec.Table)
	doors := &ruleset.Chain{Name: DoorsChain}
	all := &ruleset.Chain{Name: AllDoorsChain}
	t.Chains = append(t.Chains, input, doors)
	mid := newMidSets(spec)
	var first []*ruleset.Rule // doors' jumps, each behind its first knock's port

	var gates []*ruleset.Chain
	for _, d := range spec.Doors {
		c := &doorCompiler{door: d, table: spec.Table, t: t, mid: mid}
		c.outcomeSets()
		for _, s := range []Seq{Open, Close} {
			if chain := c.sequence(s); chain != nil {
				jumps := c.jumps(chain.Name)
				all.Rules = append(all.Rules, jumps...)
				first = append(first, behind(d.Steps(s)[0].Proto, d.Steps(s)[0].Port, jumps)...)
				t.Chains = append(t.Chains, chain)
			}
		}
		if d.Token != nil {
			c.tokenSets()
			chain := c.tokenChain()
			jumps := c.jumps(chain.Name)
			all.Rules = append(all.Rules, jumps...)
			first = append(first, behind(ruleset.UDP, d.Token.Port, jumps)...)
			t.Chains = append(t.Chains, chain)
		}
		gate := c.gate()
		for _, p := range d.Protect {
			input.Rules = append(input.Rules, rule(fmt.Sprintf("door=%s role=gate", d.Name),
				ruleset.DPort{Proto: p.Proto, Port: p.Port}, ruleset.Verdict{Kind: ruleset.VerdictJump, Chain: gate.Name}))
		}
		gates = append(gates, gate)
	}
	if sets := mid.sets(); len(sets) > 0 {
		for _, m := range sets {
			for _, s := range t.Sets {
				if r, ok := ParseSetName(s.Name); ok && s.Family == m.Family && (r.Kind == StepKind || r.Kind == WindowKind) {
					m.SeedFrom = append(m.SeedFrom, s.Name)
				}
			}
		}
		t.Sets = append(t.Sets, sets...)
		for _, s := range sets {
			doors.Rules = append(doors.Rules, rule("role=mid",
				ruleset.SAddrIn{Family: s.Family, Set: s.Name}, ruleset.Verdict{Kind: ruleset.VerdictGoto, Chain: AllDoorsChain}))
		}
		t.Chains = append(t.Chains, all)
	}
	doors.Rules = append(doors.Rules, first...)
	t.Chains = append(t.Chains, gates...)
	if spec.Table.Closed == "reject" && len(spec.Doors) > 0 {
		sets, chains, direct := stealth(spec)
		t.Sets = append(t.Sets, sets...)
		t.Chains = append(t.Chains, chains...)
		// Before the doors: a packet that arrives for the answer port
		// itself must not find its source noted by an earlier one.
		i := 0
		for i < len(input.Rules) && input.Rules[i].Comment != "role=doors" {
			i++
		}
		input.Rules = append(input.Rules[:i], append(direct, input.Rules[i:]...)...)
	}
	return t
}

// inputRules let established sessions and loopback through first, so
// knockc never cuts a live session nor stands between local programs, then
// send packets from the interfaces where knocks count to the doors chain.
// The gate jumps Compile appends after these rules run for every
// interface: `interfaces` limits where knocks count, never where protected
// ports are closed (docs/stealth.md, "Gate everywhere").
func inputRules(ts TableSpec) []*ruleset.Rule {
	rules := []*ruleset.Rule{
		rule("role=established", ruleset.CTState{States: []string{"established", "related"}}, ruleset.Verdict{Kind: ruleset.VerdictAccept}),
	}
	if !ts.ListsLoopback() {
		rules = append(rules, rule("role=loopback", ruleset.IIFName{Name: "lo"}, ruleset.Verdict{Kind: ruleset.VerdictAccept}))
	}
	jump := ruleset.Verdict{Kind: ruleset.VerdictJump, Chain: DoorsChain}
	if len(ts.Interfaces) == 0 {
		return append(rules, rule("role=doors", jump))
	}
	for _, name := range ts.Interfaces {
		rules = append(rules, rule("role=doors", ruleset.IIFName{Name: name}, jump))
	}
	return rules
}

// rule builds a rule from statements with its userdata comment.
func rule(comment string, stmts ...ruleset.Stmt) *ruleset.Rule {
	return &ruleset.Rule{Stmts: stmts, Comment: comment}
}

// doorCompiler builds the sets and chains of one door.
type doorCompiler struct {
	door  *Door
	table TableSpec
	t     *ruleset.Table
	mid   *midSets
}

// behind returns copies of a door's jump rules that match only packets to
// proto/port first: the doors chain's rules for sources not mid-sequence.
// Such a source is in none of the sequence's step or window sets, so only
// the sequence's first-step rule can act on its packet (docs/cost.md).
func behind(proto ruleset.Proto, port uint16, jumps []*ruleset.Rule) []*ruleset.Rule {
	out := make([]*ruleset.Rule, len(jumps))
	for i, r := range jumps {
		out[i] = rule(r.Comment, append([]ruleset.Stmt{ruleset.DPort{Proto: proto, Port: port}}, r.Stmts...)...)
	}
	return out
}

// newSet adds a dynamic set to the table and returns its name.
func (c *doorCompiler) newSet(s *ruleset.Set) string {
	c.t.Sets = append(c.t.Sets, s)
	return s.Name
}

// jumps returns the doors-chain rules that send a packet into a sequence
// chain: every source, or one rule per allow_from prefix. Prefixes inside
// another are dropped first, so one packet jumps at most once.
func (c *doorCompiler) jumps(chain string) []*ruleset.Rule {
	comment := fmt.Sprintf("door=%s role=knock", c.door.Name)
	jump := ruleset.Verdict{Kind: ruleset.VerdictJump, Chain: chain}
	if len(c.door.AllowFrom) == 0 {
		return []*ruleset.Rule{rule(comment, jump)}
	}
	var out []*ruleset.Rule
	for _, p := range disjointPrefixes(c.door.AllowFrom) {
		out = append(out, rule(comment, ruleset.SAddrPrefix{Prefix: p}, jump))
	}
	return out
}

// KnockInterfaces returns the interfaces knocks count on in t, as the
// input chain's doors jumps name them (table.interfaces), or nil when
// knocks count on every interface.
func KnockInterfaces(t *ruleset.Table) []string {
	c := t.Chain(InputChain)
	if c == nil {
		return nil
	}
	var out []string
	for _, r := range c.Rules {
		if len(r.Stmts) != 2 {
			continue
		}
		i, ok := r.Stmts[0].(ruleset.IIFName)
		if v, isJump := r.Stmts[1].(ruleset.Verdict); ok && isJump && v.Kind == ruleset.VerdictJump && v.Chain == DoorsChain {
			out = append(out, i.Name)
		}
	}
	return out
}
