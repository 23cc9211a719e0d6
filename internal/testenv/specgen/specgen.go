// Package specgen writes knock specs of any size, for benchmarks and tests
// that need many doors: compile, plan and apply cost against door count.
package specgen

import (
	"fmt"
	"strings"
)

// Port ranges of the generated doors. Door i knocks on KnockBase+3i,
// KnockBase+3i+1 and KnockBase+3i+2 (tcp), closes with the same ports in
// reverse, and protects ProtectBase+i/tcp; the ranges never overlap.
const (
	KnockBase   = 20000
	ProtectBase = 1024
)

// MaxDoors is the most doors Doors can write before knock ports would pass
// 65535.
const MaxDoors = (65535-KnockBase-2)/3 + 1

// DoorName returns the name of generated door i: "d00000", "d00001", …;
// the compiler sorts doors by name, so they keep their numeric order.
func DoorName(i int) string { return fmt.Sprintf("d%05d", i) }

// SmallSets is a flood_rate that keeps every step set at 500 elements.
// Benchmarks of the control plane use it: the kernel allocates a dynamic
// set's hash buckets when the set is created, about 16 to 32 bytes per
// element of its declared size, so the default flood_rate (25000/s, step
// sets of 125000 elements) costs some 2 MiB of kernel memory per step set,
// about 16 MiB per door, before a single knock.
const SmallSets = 100

// Doors returns a knock.toml with n doors in the default table, which
// compiler.Parse accepts. Door i (named DoorName(i)) has a three-step tcp
// sequence on ports of its own, the reverse as its close sequence, and
// protects one port; see KnockBase and ProtectBase. Every door declares
// flood_rate = floodRate, or leaves it to the compiler's default when
// floodRate is 0. Doors panics when n is not within 1..MaxDoors.
func Doors(n, floodRate int) []byte {
	if n < 1 || n > MaxDoors {
		panic(fmt.Sprintf("specgen: %d doors, want 1 to %d", n, MaxDoors))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %d generated doors (internal/specgen)\n", n)
	for i := range n {
		p := KnockBase + 3*i
		fmt.Fprintf(&b, "\n[door.%s]\n", DoorName(i))
		fmt.Fprintf(&b, "sequence = [\"%d/tcp\", \"%d/tcp\", \"%d/tcp\"]\n", p, p+1, p+2)
		fmt.Fprintf(&b, "close_sequence = [\"%d/tcp\", \"%d/tcp\", \"%d/tcp\"]\n", p+2, p+1, p)
		fmt.Fprintf(&b, "protect = [\"%d/tcp\"]\n", ProtectBase+i)
		if floodRate > 0 {
			fmt.Fprintf(&b, "flood_rate = %d\n", floodRate)
		}
	}
	return []byte(b.String())
}
