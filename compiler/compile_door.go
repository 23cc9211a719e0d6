package compiler

import (
	"fmt"
	"net/netip"
	"sort"
	"time"

	"github.com/knockc/knockc/ruleset"
)

// outcomeSets adds the door's grant sets and, for a managed door, its
// pending sets, one per family.
func (c *doorCompiler) outcomeSets() {
	d := c.door
	for _, f := range d.Families {
		c.newSet(&ruleset.Set{
			Name: GrantSet(d.Name, f), Family: f, Timeout: d.OpenFor, Size: uint32(d.MaxGrants),
		})
		if d.Managed() {
			c.newSet(&ruleset.Set{
				Name: PendingSet(d.Name, f), Family: f, Timeout: d.StartTimeout, Size: uint32(d.MaxGrants),
			})
		}
	}
}

// seqSets are the sets of one sequence and family: step[k] holds sources
// that completed step k (1 ≤ k < n); win, when set, bounds the whole sequence.
type seqSets struct {
	step []string
	win  string
}

// windowNeeded reports whether seq_timeout can bind: with n steps the
// step timeouts alone already end any sequence within (n-1)·step_timeout.
func windowNeeded(d *Door, n int) bool {
	return n >= 2 && d.SeqTimeout > 0 && d.SeqTimeout < time.Duration(n-1)*d.StepTimeout
}

// sequence builds the chain and sets of a door's open or close sequence,
// or returns nil when the door has no such sequence. Rules run last step
// first and every advance ends in return, so one packet moves a source at
// most one step; see docs/design.md, "The ruleset".
func (c *doorCompiler) sequence(s Seq) *ruleset.Chain {
	d := c.door
	steps := d.Sequence
	if s == Close {
		steps = d.CloseSequence
	}
	n := len(steps)
	if n == 0 {
		return nil
	}
	window := windowNeeded(d, n)
	sets := map[ruleset.Family]seqSets{}
	for _, f := range d.Families {
		var ss seqSets
		if window {
			ss.win = c.newSet(&ruleset.Set{
				Name: WindowSet(d.Name, s, f), Family: f, Timeout: d.SeqTimeout,
				Size: stepSetSize(d.FloodRate, d.SeqTimeout),
			})
		}
		ss.step = make([]string, n)
		for k := 1; k < n; k++ {
			ss.step[k] = c.newSet(&ruleset.Set{
				Name: StepSet(d.Name, s, k, f), Family: f, Timeout: d.StepTimeout,
				Size: stepSetSize(d.FloodRate, d.StepTimeout),
			})
		}
		sets[f] = ss
	}

	chain := &ruleset.Chain{Name: SeqChain(d.Name, s)}
	add := func(comment string, stmts ...ruleset.Stmt) {
		chain.Rules = append(chain.Rules, rule(comment, stmts...))
	}
	note := func(k int, role string) string {
		return fmt.Sprintf("door=%s seq=%s step=%d role=%s", d.Name, s, k, role)
	}
	ret := ruleset.Verdict{Kind: ruleset.VerdictReturn}

	// Steps n down to 2: the source must hold step k-1 (and the window).
	for k := n; k >= 2; k-- {
		for _, f := range d.Families {
			ss := sets[f]
			st := c.knock(steps[k-1])
			st = append(st, ruleset.SAddrIn{Family: f, Set: ss.step[k-1]})
			if ss.win != "" {
				st = append(st, ruleset.SAddrIn{Family: f, Set: ss.win})
			}
			if k == n {
				st = append(st, c.outcome(s, f)...)
				st = append(st, ruleset.SetSAddr{Op: ruleset.OpDelete, Set: ss.step[k-1], Family: f})
				if ss.win != "" {
					st = append(st, ruleset.SetSAddr{Op: ruleset.OpDelete, Set: ss.win, Family: f})
				}
				st = append(st, ruleset.Log{Prefix: LogPrefix(d.Name, s), Group: c.table.LogGroup})
			} else {
				st = append(st, c.mark(f),
					ruleset.SetSAddr{Op: ruleset.OpUpdate, Set: ss.step[k], Family: f},
					ruleset.SetSAddr{Op: ruleset.OpDelete, Set: ss.step[k-1], Family: f})
			}
			add(note(k, "advance"), append(st, ret)...)
		}
	}

	// Strict: a repeat of a source's last knock changes nothing; any other
	// knock-like packet from it wipes its progress and is then judged as a
	// possible first knock. Deleting an absent element is a no-op, so the
	// reset needs no membership test.
	if d.Strict && n >= 2 {
		for k := n - 1; k >= 1; k-- {
			for _, f := range d.Families {
				st := append(c.knock(steps[k-1]), ruleset.SAddrIn{Family: f, Set: sets[f].step[k]}, ret)
				add(note(k, "repeat"), st...)
			}
		}
		for _, p := range protocols(steps) {
			for _, f := range d.Families {
				ss := sets[f]
				st := []ruleset.Stmt{c.knockLike(p)}
				for k := 1; k < n; k++ {
					st = append(st, ruleset.SetSAddr{Op: ruleset.OpDelete, Set: ss.step[k], Family: f})
				}
				if ss.win != "" {
					st = append(st, ruleset.SetSAddr{Op: ruleset.OpDelete, Set: ss.win, Family: f})
				}
				add(fmt.Sprintf("door=%s seq=%s role=reset", d.Name, s), st...)
			}
		}
	}

	// Step 1 (re)starts the sequence.
	for _, f := range d.Families {
		ss := sets[f]
		st := c.knock(steps[0])
		if n == 1 {
			st = append(st, c.outcome(s, f)...)
			st = append(st, ruleset.Log{Prefix: LogPrefix(d.Name, s), Group: c.table.LogGroup})
		} else {
			st = append(st, c.mark(f))
			if ss.win != "" {
				st = append(st, ruleset.SetSAddr{Op: ruleset.OpUpdate, Set: ss.win, Family: f})
			}
			st = append(st, ruleset.SetSAddr{Op: ruleset.OpUpdate, Set: ss.step[1], Family: f})
			if !d.Strict {
				for k := 2; k < n; k++ {
					st = append(st, ruleset.SetSAddr{Op: ruleset.OpDelete, Set: ss.step[k], Family: f})
				}
			}
		}
		add(note(1, "advance"), append(st, ret)...)
	}
	return chain
}

// knock matches a packet that counts as the given knock.
func (c *doorCompiler) knock(s Step) []ruleset.Stmt {
	st := []ruleset.Stmt{ruleset.DPort{Proto: s.Proto, Port: s.Port}}
	if s.Proto == ruleset.TCP {
		st = append(st, ruleset.TCPFlags{Flags: c.door.TCPFlags.Flags, Mask: c.door.TCPFlags.Mask})
	}
	return st
}

// knockLike matches any packet that would count as a knock on some port.
func (c *doorCompiler) knockLike(p ruleset.Proto) ruleset.Stmt {
	if p == ruleset.TCP {
		return ruleset.TCPFlags{Flags: c.door.TCPFlags.Flags, Mask: c.door.TCPFlags.Mask}
	}
	return ruleset.L4Proto{Proto: p}
}

// outcome is what a completed sequence does to the source: an open grants
// it (or marks it pending while the monitor starts the service); a close
// takes the grant away.
func (c *doorCompiler) outcome(s Seq, f ruleset.Family) []ruleset.Stmt {
	d := c.door
	if s == Close {
		st := []ruleset.Stmt{ruleset.SetSAddr{Op: ruleset.OpDelete, Set: GrantSet(d.Name, f), Family: f}}
		if d.Managed() {
			st = append(st, ruleset.SetSAddr{Op: ruleset.OpDelete, Set: PendingSet(d.Name, f), Family: f})
		}
		return st
	}
	if d.Managed() {
		return []ruleset.Stmt{ruleset.SetSAddr{Op: ruleset.OpUpdate, Set: PendingSet(d.Name, f), Family: f}}
	}
	return []ruleset.Stmt{ruleset.SetSAddr{Op: ruleset.OpUpdate, Set: GrantSet(d.Name, f), Family: f}}
}

// gate builds the chain that decides who reaches the protected ports:
// granted sources pass on to the host's firewall, pending ones are held
// back silently, everyone else sees a closed port.
func (c *doorCompiler) gate() *ruleset.Chain {
	d := c.door
	chain := &ruleset.Chain{Name: GateChain(d.Name)}
	for _, p := range d.Protect {
		port := ruleset.DPort{Proto: p.Proto, Port: p.Port}
		note := func(role string) string { return fmt.Sprintf("door=%s port=%s role=%s", d.Name, p, role) }
		mark := c.grantMark()
		for _, f := range d.Families {
			st := append([]ruleset.Stmt{port, ruleset.SAddrIn{Family: f, Set: GrantSet(d.Name, f)}}, mark...)
			chain.Rules = append(chain.Rules, rule(note("grant"), append(st, ruleset.Verdict{Kind: ruleset.VerdictReturn})...))
		}
		if d.Managed() {
			// A pending knocker's packets wait in the monitor's queue until
			// the service is up (or are dropped, with pending = "drop").
			// The mark rides along: a released packet keeps it.
			held := []ruleset.Stmt{ruleset.Verdict{Kind: ruleset.VerdictDrop}}
			if d.Hold {
				held = append(mark, ruleset.Queue{Num: c.table.HoldQueue})
			}
			for _, f := range d.Families {
				st := append([]ruleset.Stmt{port, ruleset.SAddrIn{Family: f, Set: PendingSet(d.Name, f)}}, held...)
				chain.Rules = append(chain.Rules, rule(note("pending"), st...))
			}
		}
		var closed ruleset.Stmt = ruleset.Verdict{Kind: ruleset.VerdictDrop}
		if c.table.Closed == "reject" {
			closed = ruleset.Reject{TCPReset: p.Proto == ruleset.TCP}
			if p.Proto == ruleset.TCP {
				// Packets conntrack finds invalid (FIN, NULL, Xmas, SYN-ACK
				// with no connection) are not NATed by the stealth chain:
				// hand them to the answer port here, so the stack answers.
				for _, f := range d.Families {
					chain.Rules = append(chain.Rules, rule(note("invalid"), port,
						ruleset.CTState{States: []string{"invalid", "untracked"}},
						ruleset.TCPFlags{Flags: 0, Mask: tcpRST},
						ruleset.SetSAddr{Op: ruleset.OpUpdate, Set: StealthSet(p.Port, f), Family: f},
						ruleset.SetPort{Port: c.table.AnswerPort},
						ruleset.Verdict{Kind: ruleset.VerdictReturn}))
				}
			}
		}
		// What the stealth chain and the rule above leave (a packet of a
		// connection conntrack saw before its source stopped being pending)
		// is refused by netfilter itself: closed all the same.
		chain.Rules = append(chain.Rules, rule(note("closed"), port, closed))
	}
	return chain
}

// tcpRST is the TCP RST flag bit. A reset is never answered, so the
// invalid-packet rule leaves resets alone.
const tcpRST = 0x04

// grantMark returns the statement that marks the door's granted packets
// (the door's own grant_mark, else the table's), or none.
func (c *doorCompiler) grantMark() []ruleset.Stmt {
	mark := c.table.GrantMark
	if c.door.GrantMark != nil {
		mark = *c.door.GrantMark
	}
	if mark == 0 {
		return nil
	}
	return []ruleset.Stmt{ruleset.MarkSet{Mark: mark}}
}

// protocols returns the transport protocols a sequence uses, tcp first.
func protocols(steps []Step) []ruleset.Proto {
	var tcp, udp bool
	for _, s := range steps {
		tcp = tcp || s.Proto == ruleset.TCP
		udp = udp || s.Proto == ruleset.UDP
	}
	var out []ruleset.Proto
	if tcp {
		out = append(out, ruleset.TCP)
	}
	if udp {
		out = append(out, ruleset.UDP)
	}
	return out
}

// disjointPrefixes drops prefixes contained in another and sorts the rest
// (IPv4 first), so no source matches two of them.
func disjointPrefixes(ps []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for i, p := range ps {
		covered := false
		for j, q := range ps {
			if i != j && q.Bits() <= p.Bits() && q.Contains(p.Addr()) && (q.Bits() < p.Bits() || j < i) {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Addr().Is4() != out[j].Addr().Is4() {
			return out[i].Addr().Is4()
		}
		if c := out[i].Addr().Compare(out[j].Addr()); c != 0 {
			return c < 0
		}
		return out[i].Bits() < out[j].Bits()
	})
	return out
}
