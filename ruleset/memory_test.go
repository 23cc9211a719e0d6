package ruleset

import "testing"

// The kernel's first hash table follows the set's size modulo 65536
// (rhashtable's nelem_hint is a u16): sets of 65,536 elements or any
// multiple start at rhashtable's default of 64 buckets.
func TestBucketBytes(t *testing.T) {
	for _, tt := range []struct {
		size uint32
		want uint64
	}{
		{1, 4 * 8},
		{1024, 2048 * 8},
		{8192, 16384 * 8},
		{60000, 131072 * 8},
		{65535, 131072 * 8},
		{65536, 64 * 8},
		{65537, 4 * 8},
		{131072, 64 * 8},
		{16777216, 64 * 8},
		{1000000, 32768 * 8}, // 1000000 mod 65536 = 16960
	} {
		s := &Set{Size: tt.size}
		if got := s.BucketBytes(); got != tt.want {
			t.Errorf("Set{Size: %d}.BucketBytes() = %d, want %d", tt.size, got, tt.want)
		}
	}
}
