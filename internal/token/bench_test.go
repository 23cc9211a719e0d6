package token

import (
	"testing"
	"time"
)

// BenchmarkDerive measures one token's derivation (HMAC-SHA256 and the
// truncation): what a top-up pays per token before the kernel's share.
func BenchmarkDerive(b *testing.B) {
	p := Params{Door: "ssh", Slot: 30 * time.Second, PerSlot: 8}
	s := testSecret()
	var i int64
	for b.Loop() {
		_ = Derive(s, p, 58000000+i/8, int(i%8))
		i++
	}
}
