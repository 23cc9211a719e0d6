//go:build linux

package nftkernel

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/ruleset"
)

// traceKinds are the kinds of trace randomTrace draws from.
var traceKinds = []string{"right", "right", "repeated", "reordered", "wrong", "slow", "slow", "wrong-flag", "scan", "close", "partial", "random", "expire", "refresh", "refresh", "odd"}

// tokenKinds are the kinds of trace against a token door.
var tokenKinds = []string{"token", "token", "token-replay", "token-wrong", "token-short", "token-other-key"}

// randomTrace draws a trace from src against one of spec's doors.
func randomTrace(r *rand.Rand, spec *compiler.Spec, src netip.Addr) *trace {
	d := spec.Doors[r.IntN(len(spec.Doors))]
	tr := &trace{kind: traceKinds[r.IntN(len(traceKinds))], src: src, probe: d.Protect[r.IntN(len(d.Protect))], door: d}
	if r.IntN(5) == 0 {
		o := spec.Doors[r.IntN(len(spec.Doors))]
		tr.probe = o.Protect[r.IntN(len(o.Protect))]
	}
	if d.Token != nil {
		tr.kind = tokenKinds[r.IntN(len(tokenKinds))]
		tokenTrace(r, tr, d)
		return tr
	}
	fast := func() time.Duration { return time.Duration(r.IntN(15)) * time.Millisecond }
	knock := func(s compiler.Step) traceStep {
		st := traceStep{gap: fast(), proto: s.Proto, port: s.Port}
		if s.Proto == ruleset.TCP {
			st.flags = d.TCPFlags.Flags
			if r.IntN(3) == 0 { // flags the door does not look at
				st.flags |= uint8(r.UintN(256)) &^ d.TCPFlags.Mask
			}
		}
		return st
	}
	seq := func(steps []compiler.Step) []traceStep {
		out := make([]traceStep, len(steps))
		for i, s := range steps {
			out[i] = knock(s)
		}
		return out
	}
	steps := seq(d.Sequence)
	n := len(steps)
	switch tr.kind {
	case "right":
	case "repeated":
		var out []traceStep
		for _, s := range steps {
			for range 1 + r.IntN(3) {
				s.gap = fast()
				out = append(out, s)
			}
		}
		steps = out
	case "reordered":
		if n >= 2 {
			i := r.IntN(n - 1)
			steps[i], steps[i+1] = steps[i+1], steps[i]
		} else {
			steps = append(steps, knock(d.Sequence[0]))
		}
	case "wrong":
		i := r.IntN(n)
		steps[i].port = uint16(1024 + r.IntN(64000))
		if r.IntN(3) == 0 {
			steps[i].proto, steps[i].port = flip(steps[i].proto), d.Sequence[i].Port
		}
	case "slow":
		stepTO, seqTO := d.StepTimeout, d.SeqTimeout
		if n >= 3 && seqTO > 0 && seqTO < time.Duration(n-1)*stepTO && r.IntN(2) == 0 {
			// Each gap within step_timeout, the whole beyond seq_timeout.
			gap := min(stepTO-60*time.Millisecond, seqTO/time.Duration(n-2))
			for i := 1; i < n; i++ {
				steps[i].gap = max(gap, 0)
			}
		} else if n >= 2 {
			steps[1+r.IntN(n-1)].gap = stepTO + time.Duration(60+r.IntN(120))*time.Millisecond
		} else {
			tr.probeGap(d.OpenFor)
		}
	case "wrong-flag":
		changed := false
		for i, s := range d.Sequence {
			if s.Proto == ruleset.TCP && (r.IntN(2) == 0 || !changed && i == n-1) {
				f := uint8(r.UintN(256))
				for f&d.TCPFlags.Mask == d.TCPFlags.Flags {
					f = uint8(r.UintN(256))
				}
				steps[i].flags, changed = f, true
			}
		}
	case "scan":
		var ports []compiler.Step
		for _, o := range spec.Doors {
			ports = append(ports, o.Sequence...)
			ports = append(ports, o.CloseSequence...)
			ports = append(ports, o.Protect...)
		}
		for range 3 {
			ports = append(ports, compiler.Step{Port: uint16(1024 + r.IntN(64000)), Proto: ruleset.TCP})
		}
		for _, o := range spec.Doors {
			if o.Token != nil {
				ports = append(ports, compiler.Step{Port: o.Token.Port, Proto: ruleset.UDP})
			}
		}
		slices.SortFunc(ports, func(a, b compiler.Step) int { return int(a.Port) - int(b.Port) })
		steps = nil
		for _, p := range slices.Compact(ports) {
			st := traceStep{gap: time.Millisecond, proto: p.Proto, port: p.Port, flags: 0x02}
			steps = append(steps, st)
		}
	case "close":
		if len(d.CloseSequence) > 0 {
			steps = append(steps, seq(d.CloseSequence)...)
		}
	case "partial":
		steps = steps[:r.IntN(n)]
	case "random":
		steps = nil
		for range 1 + r.IntN(8) {
			o := spec.Doors[r.IntN(len(spec.Doors))]
			pool := append(append([]compiler.Step{}, o.Sequence...), o.CloseSequence...)
			if o.Token != nil {
				pool = append(pool, compiler.Step{Port: o.Token.Port, Proto: ruleset.UDP})
			}
			p := pool[r.IntN(len(pool))]
			st := traceStep{gap: fast(), proto: p.Proto, port: p.Port}
			if r.IntN(4) == 0 {
				st.proto = flip(st.proto)
			}
			if st.proto == ruleset.TCP {
				st.flags = uint8(r.UintN(256))
				if r.IntN(2) == 0 {
					st.flags = d.TCPFlags.Flags
				}
			}
			steps = append(steps, st)
		}
	case "expire":
		// Past the grant, or for a managed door (whose grant only the
		// monitor gives) past the pending entry's start_timeout.
		if d.Managed() {
			tr.probeGap(d.StartTimeout)
		} else {
			tr.probeGap(d.OpenFor)
		}
	case "odd":
		// A scanner's odd segments (FIN, NULL, Xmas, ACK, SYN-ACK…) at
		// protected ports, some of which conntrack calls invalid, around
		// a right knock.
		var odd []traceStep
		for range 1 + r.IntN(3) {
			o := spec.Doors[r.IntN(len(spec.Doors))]
			p := o.Protect[r.IntN(len(o.Protect))]
			odd = append(odd, traceStep{gap: fast(), proto: ruleset.TCP, port: p.Port, flags: oneFlags(r)})
		}
		if r.IntN(2) == 0 {
			steps = append(odd, steps...)
		} else {
			steps = append(steps, odd...)
		}
	case "refresh":
		// A repeat restarts a step's timeout (update, not add): knock a
		// step again at 0.6 of step_timeout and the next one 0.6 later,
		// past the first knock's expiry. For a one-step door, knock again
		// at 0.6 of open_for and probe past the first grant's end.
		if n >= 2 {
			k := r.IntN(n - 1)
			again := steps[k]
			again.gap = d.StepTimeout * 6 / 10
			steps[k+1].gap = d.StepTimeout * 6 / 10
			steps = slices.Insert(steps, k+1, again)
		} else if d.OpenFor <= 2*time.Second {
			again := steps[0]
			again.gap = d.OpenFor * 6 / 10
			steps = append(steps, again)
			tr.wait = d.OpenFor * 6 / 10
		}
	}
	if len(steps) == 0 { // a probe alone
		steps = nil
	}
	tr.steps = steps
	return tr
}

// tokenTrace fills tr with datagrams to d's token port: a token of one
// of d's keys that the test installs for this trace alone (so traces run
// at once cannot spend each other's), sent once or twice, or a token
// nobody installed, or one cut short, or a token of a key of another
// door's set.
func tokenTrace(r *rand.Rand, tr *trace, d *compiler.Door) {
	key := d.Token.Keys[r.IntN(len(d.Token.Keys))]
	tok := make([]byte, 16)
	for i := range tok {
		tok[i] = byte(r.UintN(256))
	}
	set := compiler.TokenSet(d.Name, key.Name)
	send := func(payload []byte) traceStep {
		return traceStep{gap: time.Duration(r.IntN(15)) * time.Millisecond, proto: ruleset.UDP, port: d.Token.Port, payload: payload}
	}
	withTail := append(append([]byte{}, tok...), make([]byte, r.IntN(8))...)
	switch tr.kind {
	case "token":
		tr.tokens = append(tr.tokens, tokenElem{set, tok})
		tr.steps = []traceStep{send(withTail)}
	case "token-replay":
		tr.tokens = append(tr.tokens, tokenElem{set, tok})
		tr.steps = []traceStep{send(tok), send(tok)}
		if r.IntN(2) == 0 {
			tr.wait = d.OpenFor + 100*time.Millisecond // the second grants nothing new
			if d.OpenFor > 2*time.Second {
				tr.wait = 0
			}
		}
	case "token-wrong":
		tr.steps = []traceStep{send(tok)}
	case "token-short":
		tr.tokens = append(tr.tokens, tokenElem{set, tok})
		tr.steps = []traceStep{send(tok[:r.IntN(16)])}
	case "token-other-key":
		// A token installed in another set of the table than the one its
		// datagram is checked against still opens (any key's set), or a
		// token in a set keyed the same way but of another door does not.
		other := d.Token.Keys[r.IntN(len(d.Token.Keys))]
		tr.tokens = append(tr.tokens, tokenElem{compiler.TokenSet(d.Name, other.Name), tok})
		tr.steps = []traceStep{send(tok)}
	}
}

// probeGap makes the trace wait past an element's timeout before its
// probe, when that is short enough to wait for.
func (tr *trace) probeGap(timeout time.Duration) {
	if timeout <= 2*time.Second {
		tr.wait = timeout + 100*time.Millisecond
	}
}

// oneFlags returns the flags of a scanner's probe, or random ones.
func oneFlags(r *rand.Rand) uint8 {
	probes := []uint8{0x01, 0x00, 0x29, 0x10, 0x12, 0x11, 0x04, 0x03, 0x02}
	if r.IntN(3) == 0 {
		return uint8(r.UintN(256))
	}
	return probes[r.IntN(len(probes))]
}

func flip(p ruleset.Proto) ruleset.Proto {
	if p == ruleset.TCP {
		return ruleset.UDP
	}
	return ruleset.TCP
}
