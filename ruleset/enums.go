package ruleset

import (
	"fmt"
	"strconv"
)

// The nft words of the model, as typed values: each type's constants are
// the one list of its names, which the compiler writes, Render prints and
// nftkernel maps to the kernel's numbers in one table per type
// (ruleset/nftkernel/names.go). An unknown word read back from the kernel
// (a hand edit) keeps its text, so it renders and shows up as drift.

// VerdictKind is the word of a verdict statement.
type VerdictKind string

// The verdicts knockc writes.
const (
	VerdictAccept VerdictKind = "accept"
	VerdictDrop   VerdictKind = "drop"
	VerdictReturn VerdictKind = "return"
	VerdictJump   VerdictKind = "jump"
	VerdictGoto   VerdictKind = "goto"
)

// TakesChain reports whether the verdict names a chain (jump and goto).
func (k VerdictKind) TakesChain() bool { return k == VerdictJump || k == VerdictGoto }

// ChainType is the type of a base chain.
type ChainType string

// The base chain types nft knows.
const (
	ChainFilter ChainType = "filter"
	ChainNAT    ChainType = "nat"
	ChainRoute  ChainType = "route"
)

// HookPoint is where in the stack a base chain runs.
type HookPoint string

// The hooks of an inet table.
const (
	HookPrerouting  HookPoint = "prerouting"
	HookInput       HookPoint = "input"
	HookForward     HookPoint = "forward"
	HookOutput      HookPoint = "output"
	HookPostrouting HookPoint = "postrouting"
	HookIngress     HookPoint = "ingress"
)

// Policy is what a base chain does with a packet no rule decided on.
type Policy string

// The two base chain policies.
const (
	PolicyAccept Policy = "accept"
	PolicyDrop   Policy = "drop"
)

// setOpNames are the nft keywords of the dynset operations, by SetOp.
var setOpNames = [...]string{OpAdd: "add", OpUpdate: "update", OpDelete: "delete"}

// String returns the nft keyword of op.
func (op SetOp) String() string {
	if int(op) < len(setOpNames) {
		return setOpNames[op]
	}
	return "op-" + strconv.Itoa(int(op))
}

// ObjectKind is the kind of an object of knockc's table, as nft names it.
type ObjectKind string

// The objects a plan adds, changes or destroys.
const (
	KindTable ObjectKind = "table"
	KindSet   ObjectKind = "set"
	KindChain ObjectKind = "chain"
	KindRule  ObjectKind = "rule"
)

// standardPriorities are nft's named hook priorities for the inet family:
// the one table the spec loader reads names from and Render writes them
// with.
var standardPriorities = []struct {
	name  string
	value int
	hook  HookPoint // the only hook the name is valid for, if any
}{
	{"raw", -300, ""},
	{"mangle", -150, ""},
	{"dstnat", -100, HookPrerouting},
	{"filter", 0, ""},
	{"security", 50, ""},
	{"srcnat", 100, HookPostrouting},
}

// NamedPriority returns the value of nft's priority name on hook, and
// false when the name is not one nft knows for that hook.
func NamedPriority(hook HookPoint, name string) (int, bool) {
	for _, sp := range standardPriorities {
		if sp.name == name && (sp.hook == "" || sp.hook == hook) {
			return sp.value, true
		}
	}
	return 0, false
}

// PriorityNames returns the priority names valid on hook, in nft's order.
func PriorityNames(hook HookPoint) []string {
	var out []string
	for _, sp := range standardPriorities {
		if sp.hook == "" || sp.hook == hook {
			out = append(out, sp.name)
		}
	}
	return out
}

// PriorityName renders a priority as nft does: a standard name when the
// value is within 10 of one ("mangle", "mangle + 10", "filter - 5"),
// otherwise the number.
func PriorityName(hook HookPoint, prio int) string {
	for _, sp := range standardPriorities {
		off := prio - sp.value
		if off < -10 || off > 10 {
			continue
		}
		if sp.hook != "" && sp.hook != hook {
			break
		}
		switch {
		case off > 0:
			return fmt.Sprintf("%s + %d", sp.name, off)
		case off < 0:
			return fmt.Sprintf("%s - %d", sp.name, -off)
		}
		return sp.name
	}
	return strconv.Itoa(prio)
}
