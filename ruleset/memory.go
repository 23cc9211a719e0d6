package ruleset

// The kernel memory one element of a dynamic timeout set takes, measured
// (BenchmarkElementMemory, docs/cost.md): the hash element with its key,
// timeout and expiration extensions in one kmalloc-cg slab object, 64
// bytes with a 4-byte key (IPv4), 96 with a 16-byte one (IPv6, a token).
// The hash buckets are apart (BucketBytes). Used to state what a set's
// size implies.
const (
	ElementBytesV4 = 64
	ElementBytesV6 = 96
)

// ElementBytes returns the memory one element of s takes: ElementBytesV4
// for an IPv4 set, ElementBytesV6 for any other (IPv6, a token set's
// 16-byte key).
func (s *Set) ElementBytes() uint64 {
	if s.Typeof == nil && s.Family == IPv4 {
		return ElementBytesV4
	}
	return ElementBytesV6
}

// MaxMemory returns the kernel memory s's elements take when it is full.
func (s *Set) MaxMemory() uint64 { return uint64(s.Size) * s.ElementBytes() }

// BucketBytes returns the memory the kernel takes for s's hash table as
// soon as the set exists, before any element. nft_set_hash passes the
// declared size to rhashtable as its nelem_hint, which is a u16: the
// kernel sizes the first table from the size modulo 65536 (a power of two
// at or above 4/3 of it, 8 bytes a bucket), and from its default of 64
// buckets when that is 0. Measured on 6.18: 80 sets of 60,000 took 45 MB
// at once, 80 sets of 131,072 none beyond the default.
func (s *Set) BucketBytes() uint64 {
	hint := uint64(uint16(s.Size))
	if hint == 0 {
		return rhashDefaultBuckets * 8
	}
	n := uint64(1)
	for n < hint*4/3 {
		n <<= 1
	}
	return max(n, 4) * 8
}

// rhashDefaultBuckets is rhashtable's HASH_DEFAULT_SIZE: the first table
// of a set whose nelem_hint is 0.
const rhashDefaultBuckets = 64

// MaxMemory returns the kernel memory every set of t takes when full.
func (t *Table) MaxMemory() (elements, bytes uint64) {
	for _, s := range t.Sets {
		elements += uint64(s.Size)
		bytes += s.MaxMemory()
	}
	return
}

// FixedMemory returns the memory t's sets take from the moment they exist.
func (t *Table) FixedMemory() uint64 {
	var b uint64
	for _, s := range t.Sets {
		b += s.BucketBytes()
	}
	return b
}
