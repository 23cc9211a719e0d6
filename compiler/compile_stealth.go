package compiler

import (
	"fmt"
	"time"

	"github.com/knockc/knockc/ruleset"
)

// Stealth set parameters. An element lives from a packet's arrival to the
// stack's reset for it, which the kernel sends within the same softirq; the
// timeout only bounds elements whose packet got no answer (dropped later
// by the host firewall). 8192 elements absorb 80,000 such packets a second;
// a full set makes the rule fall through to netfilter's own reset.
const (
	stealthSetTimeout = 100 * time.Millisecond
	stealthSetSize    = 8192
)

// stealth returns the sets and chains that make the host's own stack
// answer for protected ports under closed = "reject" (docs/stealth.md):
//
//   - stealth (nat prerouting, dstnat): a packet that starts a connection
//     to a protected port from a source neither granted nor pending is
//     redirected to the answer port, where nothing listens, so TCP or UDP
//     itself answers, and conntrack maps the answer back to the protected
//     port;
//   - the door gates hand TCP packets conntrack finds invalid to the
//     answer port by rewriting their destination port (see gate), noting
//     the source in a stealth set;
//   - stealth_out (filter output) gives the protected port back to the
//     stack's reset for such a packet, and takes the source out again;
//   - the returned input rules take a source out of the stealth sets when
//     an invalid packet of its own arrives for the answer port itself, so
//     that port's reset keeps its number even if an earlier packet of the
//     source for a protected port went unanswered (the host dropped it).
func stealth(spec *Spec) ([]*ruleset.Set, []*ruleset.Chain, []*ruleset.Rule) {
	ts := spec.Table
	nat := &ruleset.Chain{Name: StealthChain, Hook: &ruleset.Hook{
		Type: "nat", Hook: "prerouting", Priority: -100, Policy: "accept",
	}}
	out := &ruleset.Chain{Name: StealthOutChain, Hook: &ruleset.Hook{
		Type: "filter", Hook: "output", Priority: ts.Priority, Policy: "accept",
	}}
	ret := ruleset.Verdict{Kind: ruleset.VerdictReturn}
	if !ts.ListsLoopback() {
		nat.Rules = append(nat.Rules, rule("role=loopback", ruleset.IIFName{Name: "lo"}, ret))
	}
	var redirects []*ruleset.Rule
	var sets []*ruleset.Set
	var direct []*ruleset.Rule
	for _, d := range spec.Doors {
		for _, p := range d.Protect {
			port := ruleset.DPort{Proto: p.Proto, Port: p.Port}
			note := func(role string) string { return fmt.Sprintf("door=%s port=%s role=%s", d.Name, p, role) }
			for _, f := range d.Families {
				nat.Rules = append(nat.Rules, rule(note("grant"), port, ruleset.SAddrIn{Family: f, Set: GrantSet(d.Name, f)}, ret))
			}
			if d.Managed() {
				for _, f := range d.Families {
					nat.Rules = append(nat.Rules, rule(note("pending"), port, ruleset.SAddrIn{Family: f, Set: PendingSet(d.Name, f)}, ret))
				}
			}
			redirects = append(redirects, rule(note("answer"), port, ruleset.Redirect{Port: ts.AnswerPort}))
			if p.Proto != ruleset.TCP {
				continue
			}
			for _, f := range d.Families {
				set := StealthSet(p.Port, f)
				sets = append(sets, &ruleset.Set{Name: set, Family: f, Timeout: stealthSetTimeout, Size: stealthSetSize})
				// One rule per set: one rule holding every set's delete
				// grows past what the kernel takes (EFBIG at 50 doors).
				direct = append(direct, rule("role=answer-port",
					ruleset.DPort{Proto: ruleset.TCP, Port: ts.AnswerPort},
					ruleset.CTState{States: []string{"invalid", "untracked"}},
					ruleset.SetSAddr{Op: ruleset.OpDelete, Set: set, Family: f}))
				out.Rules = append(out.Rules, rule(note("answer"),
					ruleset.SPort{Proto: ruleset.TCP, Port: ts.AnswerPort},
					ruleset.CTState{States: []string{"invalid", "untracked"}},
					ruleset.DAddrIn{Family: f, Set: set},
					ruleset.SetDAddr{Op: ruleset.OpDelete, Set: set, Family: f},
					ruleset.SetPort{Source: true, Port: p.Port},
					ret))
			}
		}
	}
	chains := []*ruleset.Chain{nat}
	nat.Rules, chains = byPort(nat.Rules, redirects, chains)
	if len(out.Rules) == 0 {
		return sets, chains, nil
	}
	// Behind one rule each, so that a packet not for (or from) the answer
	// port pays one comparison, not two a protected TCP port
	// (docs/cost.md).
	answers := &ruleset.Chain{Name: StealthAnswersChain, Rules: out.Rules}
	out.Rules = []*ruleset.Rule{rule("role=answer",
		ruleset.SPort{Proto: ruleset.TCP, Port: ts.AnswerPort},
		ruleset.CTState{States: []string{"invalid", "untracked"}},
		ruleset.Verdict{Kind: ruleset.VerdictJump, Chain: StealthAnswersChain})}
	answerPort := &ruleset.Chain{Name: AnswerPortChain, Rules: direct}
	guard := rule("role=answer-port",
		ruleset.DPort{Proto: ruleset.TCP, Port: ts.AnswerPort},
		ruleset.CTState{States: []string{"invalid", "untracked"}},
		ruleset.Verdict{Kind: ruleset.VerdictJump, Chain: AnswerPortChain})
	return sets, append(chains, out, answers, answerPort), []*ruleset.Rule{guard}
}

// byPort moves the stealth chain's rules of each protected port (its
// grant and pending returns, then its redirect) into a chain of their own,
// StealthPortChain, jumped to from one rule that matches the port: a new
// connection to any other port passes them with one comparison a port,
// not three to five (docs/cost.md). Each port's rules keep their order,
// and a port's rules never match another port's packets, so the verdicts
// are those of one flat chain. It returns the stealth chain's rules, the
// loopback rule first, and chains with the port chains appended.
func byPort(rules, redirects []*ruleset.Rule, chains []*ruleset.Chain) ([]*ruleset.Rule, []*ruleset.Chain) {
	var head []*ruleset.Rule
	byName := map[string]*ruleset.Chain{}
	var order []*ruleset.Chain
	for _, r := range append(rules, redirects...) {
		dp, ok := r.Stmts[0].(ruleset.DPort)
		if !ok {
			head = append(head, r) // the loopback rule
			continue
		}
		name := StealthPortChain(dp.Proto, dp.Port)
		c := byName[name]
		if c == nil {
			c = &ruleset.Chain{Name: name}
			byName[name] = c
			order = append(order, c)
			head = append(head, rule(fmt.Sprintf("port=%d/%s role=stealth", dp.Port, dp.Proto), dp, ruleset.Verdict{Kind: ruleset.VerdictJump, Chain: name}))
		}
		c.Rules = append(c.Rules, r)
	}
	return head, append(chains, order...)
}

// StealthPortChain returns the chain of the stealth chain's rules for one
// protected port.
func StealthPortChain(proto ruleset.Proto, port uint16) string {
	return fmt.Sprintf("stealth_port_%s%d", proto, port)
}

// AnswerPort returns the port t's stealth chains redirect non-granted
// packets to, and false when t has none (closed = "drop", or no doors).
func AnswerPort(t *ruleset.Table) (uint16, bool) {
	if t.Chain(StealthChain) == nil {
		return 0, false
	}
	for _, c := range t.Chains {
		for _, r := range c.Rules {
			for _, s := range r.Stmts {
				if rd, ok := s.(ruleset.Redirect); ok {
					return rd.Port, true
				}
			}
		}
	}
	return 0, false
}
