package compiler

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/knockc/knockc/ruleset"
)

// Names of knockc's objects in the kernel, derived from the door's name so
// that `nft list table` speaks the operator's words.
const (
	InputChain = "input" // the base chain on the input hook
	// DoorsChain dispatches a knock-like packet: a source mid-sequence
	// (in MidSet) goes to AllDoorsChain, any other only to the sequences
	// whose first knock is the packet's port (docs/cost.md).
	DoorsChain = "doors"
	// AllDoorsChain jumps to every sequence chain, in door order.
	AllDoorsChain = "doors_all"
	// StealthChain (nat prerouting) sends non-granted packets for protected
	// ports to the answer port, so the host's stack answers for them;
	// StealthOutChain gives the protected port back to the stack's answers
	// to packets conntrack found invalid (docs/stealth.md).
	StealthChain    = "stealth"
	StealthOutChain = "stealth_out"
	// StealthAnswersChain holds stealth_out's rules, one per protected TCP
	// port and family, and AnswerPortChain the input chain's deletes for
	// packets to the answer port itself: each is jumped to from one rule
	// that matches the answer port, so other packets skip them.
	StealthAnswersChain = "stealth_answers"
	AnswerPortChain     = "answer_port"
)

// Seq names a door's two sequences.
type Seq string

// The two sequences a door can have.
const (
	Open  Seq = "open"
	Close Seq = "close"
)

// StealthSet returns the set of sources whose invalid packet for TCP port
// port was just handed to the answer port, so that the stack's reset for
// it gets port back (one element per packet, gone within microseconds).
func StealthSet(port uint16, f ruleset.Family) string {
	return fmt.Sprintf("stealth_tcp%d_%s", port, f.Suffix())
}

// MidSet returns the table's set of sources that are in some step or
// window set of family f: every rule that adds a source to one of those
// first refreshes it here, with a timeout no shorter than theirs.
func MidSet(f ruleset.Family) string { return "knock_mid_" + f.Suffix() }

// SeqChain returns the chain that runs a door's open or close sequence.
func SeqChain(door string, s Seq) string { return door + "_" + string(s) }

// GateChain returns the chain that gates a door's protected ports.
func GateChain(door string) string { return door + "_gate" }

// StepSet returns the set of sources that completed step k of a sequence
// and may knock step k+1.
func StepSet(door string, s Seq, k int, f ruleset.Family) string {
	return fmt.Sprintf("%s_%s_s%d_%s", door, s, k, f.Suffix())
}

// WindowSet returns the set that bounds a whole sequence (seq_timeout).
func WindowSet(door string, s Seq, f ruleset.Family) string {
	return fmt.Sprintf("%s_%s_win_%s", door, s, f.Suffix())
}

// GrantSet returns the set of sources allowed to open new connections.
func GrantSet(door string, f ruleset.Family) string {
	return door + "_" + string(GrantKind) + "_" + f.Suffix()
}

// PendingSet returns the set of sources that completed the sequence while
// the door's service is being started.
func PendingSet(door string, f ruleset.Family) string {
	return door + "_" + string(PendingKind) + "_" + f.Suffix()
}

// SetKind is what a set of knockc's table holds.
type SetKind string

// The kinds of set a door has (see StepSet, WindowSet, GrantSet, PendingSet).
const (
	StepKind    SetKind = "step"    // sources that completed one step of a sequence
	WindowKind  SetKind = "window"  // bounds a whole sequence (seq_timeout)
	GrantKind   SetKind = "grant"   // sources allowed to open new connections
	PendingKind SetKind = "pending" // knocked, while the service starts
)

// SetRole is what a set of knockc's table holds, recovered from its name.
type SetRole struct {
	Door   string
	Kind   SetKind
	Seq    Seq // for step and window sets
	Step   int // for step sets: sources that completed this step
	Family ruleset.Family
}

// ParseSetName recovers a set's role from its name (see StepSet, GrantSet…);
// it returns false for a name knockc does not make.
func ParseSetName(name string) (SetRole, bool) {
	var r SetRole
	switch {
	case strings.HasSuffix(name, "_v4"):
		r.Family = ruleset.IPv4
	case strings.HasSuffix(name, "_v6"):
		r.Family = ruleset.IPv6
	default:
		return r, false
	}
	rest := name[:len(name)-3]
	for _, kind := range []SetKind{GrantKind, PendingKind} {
		if d, ok := strings.CutSuffix(rest, "_"+string(kind)); ok && d != "" {
			r.Door, r.Kind = d, kind
			return r, true
		}
	}
	i := strings.LastIndex(rest, "_")
	if i <= 0 {
		return r, false
	}
	last := rest[i+1:]
	j := strings.LastIndex(rest[:i], "_")
	if j <= 0 {
		return r, false
	}
	r.Door, r.Seq = rest[:j], Seq(rest[j+1:i])
	if r.Seq != Open && r.Seq != Close {
		return r, false
	}
	if last == "win" {
		r.Kind = WindowKind
		return r, true
	}
	k, err := strconv.Atoi(strings.TrimPrefix(last, "s"))
	if !strings.HasPrefix(last, "s") || err != nil || k < 1 {
		return r, false
	}
	r.Kind, r.Step = StepKind, k
	return r, true
}

// LogPrefix returns the NFLOG prefix of a door's open or close event; the
// monitor parses it with ParseLogPrefix.
func LogPrefix(door string, s Seq) string { return "knockc " + string(s) + " " + door }

// ParseLogPrefix returns the door and sequence named by an NFLOG prefix,
// and false when the prefix is not knockc's.
func ParseLogPrefix(p string) (door string, s Seq, ok bool) {
	rest, ok := strings.CutPrefix(p, "knockc ")
	if !ok {
		return "", "", false
	}
	kind, door, ok := strings.Cut(rest, " ")
	if !ok || !doorNameRE.MatchString(door) {
		return "", "", false
	}
	switch Seq(kind) {
	case Open, Close:
		return door, Seq(kind), true
	}
	return "", "", false
}
