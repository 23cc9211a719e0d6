package knock

import (
	"fmt"
	"sort"
	"strings"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/ruleset"
)

// synFlags is the TCP flag byte of a connect()'s first packet.
const synFlags = 0x02

// DoorSteps returns the knock sequence of the door called name in spec, or
// its close_sequence when closing. Door names compare as the spec compares
// them (case-insensitive, "-" read as "_"). It fails when there is no such
// door, when closing a door without a close_sequence, and when the door's
// tcp_flags would not count the plain SYN that a TCP knock sends.
func DoorSteps(spec *compiler.Spec, name string, closing bool) ([]Step, error) {
	d := findDoor(spec, name)
	if d == nil {
		names := make([]string, len(spec.Doors))
		for i, x := range spec.Doors {
			names[i] = x.Name
		}
		sort.Strings(names)
		return nil, fmt.Errorf("door %q: not in %s (doors: %s)", name, spec.File, strings.Join(names, ", "))
	}
	steps := d.Sequence
	if closing {
		if len(d.CloseSequence) == 0 {
			return nil, fmt.Errorf("door %q: has no close_sequence; its grant ends by itself after open_for (%s)", d.Name, ruleset.FormatDuration(d.OpenFor))
		}
		steps = d.CloseSequence
	}
	for _, s := range steps {
		if s.Proto == ruleset.TCP && synFlags&d.TCPFlags.Mask != d.TCPFlags.Flags {
			return nil, fmt.Errorf("door %q: counts TCP knocks with flags %q, but knockc knock sends a plain SYN (as connect does); use a tool that crafts segments, e.g. hping3", d.Name, d.TCPFlags)
		}
	}
	return steps, nil
}

// DoorNetwork returns "ip4" or "ip6" when the door named name accepts
// knocks over one family only, and "ip" otherwise (or with no such door).
func DoorNetwork(spec *compiler.Spec, name string) string {
	d := findDoor(spec, name)
	if d == nil || len(d.Families) != 1 {
		return "ip"
	}
	if d.Families[0] == ruleset.IPv6 {
		return "ip6"
	}
	return "ip4"
}

// findDoor returns the door called name, compared as the spec does.
func findDoor(spec *compiler.Spec, name string) *compiler.Door {
	want := strings.ReplaceAll(strings.ToLower(name), "-", "_")
	for _, d := range spec.Doors {
		if d.Name == want {
			return d
		}
	}
	return nil
}
