package compiler

import (
	"math"
	"time"
)

// Set sizes bound the kernel memory a flood can take, and must be large
// enough that a flood cannot lock real knockers out: a full set refuses
// new elements. A step set must hold every source that may knock in one
// element lifetime, so its size is the door's declared worst-case knock
// rate times the set's timeout.
const (
	minSetSize = 64
	maxSetSize = 1 << 24
)

// stepSetSize returns the size of a set whose elements live for timeout
// while sources arrive at up to rate per second.
func stepSetSize(rate int, timeout time.Duration) uint32 {
	n := math.Ceil(float64(rate) * timeout.Seconds())
	return uint32(min(max(n, minSetSize), maxSetSize))
}
