package compiler

import (
	"fmt"
	"strings"

	"github.com/knockc/knockc/ruleset"
)

// validate checks what no single key can: relations between a door's keys
// and between doors. Every problem is added to errs at the key it concerns.
func validate(spec *Spec, errs *errorList) {
	for _, d := range spec.Doors {
		validateDoor(d, errs)
		validateTokenDoor(d, errs)
	}
	validateAcrossDoors(spec.Doors, errs)
	validateTokenPorts(spec.Doors, errs)
	validateAnswerPort(spec, errs)
}

// validateAnswerPort refuses an answer_port that a door knocks on or
// protects: a redirected packet would count as a knock there, or loop back
// to the door (docs/stealth.md, "The kernel's own answer").
func validateAnswerPort(spec *Spec, errs *errorList) {
	t := spec.Table
	if t.answerAt == nil || t.AnswerPort == 0 {
		return
	}
	for _, d := range spec.Doors {
		for _, k := range []struct {
			key  string
			list []Step
		}{{"sequence", d.Sequence}, {"close_sequence", d.CloseSequence}, {"protect", d.Protect}} {
			key := k.key
			for _, s := range k.list {
				if s.Port == t.AnswerPort {
					errs.add(t.answerAt(), "table.answer_port = %d is door %q's %s port %s: it must be a port nothing listens on and no door uses (0, the default, is one no program can bind)", t.AnswerPort, d.Name, key, s)
				}
			}
		}
	}
}

// at returns the position of a door's key, or of the door's header.
func (d *Door) at(key string) Pos {
	if p, ok := d.pos[key]; ok {
		return p()
	}
	return d.Pos
}

func validateDoor(d *Door, errs *errorList) {
	if d.Service != "" && (len(d.StartCommand) > 0 || len(d.StopCommand) > 0) {
		errs.add(d.at("service"), "door %q: set either service or start_command/stop_command, not both", d.Name)
	}
	// Whether each key was written, not whether it loaded: a bad
	// start_command is reported once, by the loader.
	_, hasStart := d.pos["start_command"]
	_, hasStop := d.pos["stop_command"]
	if hasStart != hasStop {
		key := "start_command"
		if hasStop {
			key = "stop_command"
		}
		errs.add(d.at(key), "door %q: start_command and stop_command go together (the monitor stops what it started)", d.Name)
	}
	if len(d.CloseSequence) > 0 && len(d.Sequence) > 0 {
		if completes(d.Sequence, d.CloseSequence, d.Strict) || completes(d.CloseSequence, d.Sequence, d.Strict) {
			errs.add(d.at("close_sequence"), "door %q: close_sequence %s and sequence %s must differ, and knocking one may not complete the other on the way", d.Name, steps(d.CloseSequence), steps(d.Sequence))
		}
	}
	for _, p := range d.Protect {
		for key, seq := range map[string][]Step{"sequence": d.Sequence, "close_sequence": d.CloseSequence} {
			for _, s := range seq {
				if s == p {
					errs.add(d.at(key), "door %q: %s is both a knock port and a protected port; knock ports must be ports nothing listens on", d.Name, s)
					break
				}
			}
		}
	}
	if len(d.AllowFrom) > 0 {
		for _, p := range d.AllowFrom {
			f := ruleset.IPv4
			if p.Addr().Is6() {
				f = ruleset.IPv6
			}
			if !d.HasFamily(f) {
				errs.add(d.at("allow_from"), "door %q: allow_from has %s but families leaves out %s", d.Name, p, f)
			}
		}
		for _, f := range d.Families {
			if !hasPrefixOf(d, f) {
				errs.add(d.at("allow_from"), "door %q: families allows %s but allow_from has no %s prefix, so no %s source could knock (add one, or set families without %q)", d.Name, f, f, f, f)
			}
		}
	}
}

func hasPrefixOf(d *Door, f ruleset.Family) bool {
	for _, p := range d.AllowFrom {
		if p.Addr().Is6() == (f == ruleset.IPv6) {
			return true
		}
	}
	return false
}

// validateAcrossDoors rejects doors that would fight over ports or whose
// sequences would open one another on the way.
func validateAcrossDoors(doors []*Door, errs *errorList) {
	protectedBy := map[Step]*Door{}
	for _, d := range doors {
		for _, p := range d.Protect {
			if o := protectedBy[p]; o == d {
				continue // listed twice in one door: the loader says so
			} else if o != nil {
				errs.add(d.at("protect"), "door %q: %s is already protected by door %q (%s); a port may have only one door", d.Name, p, o.Name, o.at("protect"))
				continue
			}
			protectedBy[p] = d
		}
	}
	type namedSeq struct {
		door *Door
		key  string
		seq  []Step
	}
	var seqs []namedSeq
	for _, d := range doors {
		seqs = append(seqs, namedSeq{d, "sequence", d.Sequence})
		if len(d.CloseSequence) > 0 {
			seqs = append(seqs, namedSeq{d, "close_sequence", d.CloseSequence})
		}
		for _, key := range []string{"sequence", "close_sequence"} {
			seq := d.Sequence
			if key == "close_sequence" {
				seq = d.CloseSequence
			}
			for _, s := range seq {
				if o := protectedBy[s]; o != nil && o != d {
					errs.add(d.at(key), "door %q: knock port %s is protected by door %q; knock ports must be ports nothing listens on", d.Name, s, o.Name)
				}
			}
		}
	}
	for i, a := range seqs {
		for _, b := range seqs[i+1:] {
			if a.door == b.door || len(a.seq) == 0 || len(b.seq) == 0 {
				continue
			}
			if completes(a.seq, b.seq, b.door.Strict) || completes(b.seq, a.seq, a.door.Strict) {
				errs.add(b.door.at(b.key), "door %q: %s %s overlaps door %q's %s %s: knocking one would complete the other on the way", b.door.Name, b.key, steps(b.seq), a.door.Name, a.key, steps(a.seq))
			}
		}
	}
}

// completes reports whether knocking seq, one packet per step, would also
// complete other, a sequence of a door that is strict or not, on the way.
// It follows other's rules as compiled (last step first, each advance
// returns; strict: a repeat keeps progress, any other knock of one of its
// protocols resets it; step 1 (re)starts it), with the same tcp_flags.
func completes(seq, other []Step, strict bool) bool {
	n, done := len(other), 0
	if n == 0 {
		return false
	}
	for _, s := range seq {
		switch {
		case done > 0 && s == other[done]:
			done++
		case strict && done > 0 && s == other[done-1]:
			// a repeat of the last knock keeps the progress
		default:
			if strict && hasProto(other, s.Proto) {
				done = 0
			}
			if s == other[0] {
				done = 1
			}
		}
		if done == n {
			return true
		}
	}
	return false
}

// hasProto reports whether any step uses protocol p.
func hasProto(steps []Step, p ruleset.Proto) bool {
	for _, s := range steps {
		if s.Proto == p {
			return true
		}
	}
	return false
}

func steps(s []Step) string {
	parts := make([]string, len(s))
	for i, x := range s {
		parts[i] = x.String()
	}
	return fmt.Sprintf("[%s]", strings.Join(parts, ", "))
}
