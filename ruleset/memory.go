package ruleset

// ElementBytes is knockc's estimate of the kernel memory one element of a
// dynamic timeout set takes: the hash element with its key, timeout and
// expiration extensions rounds up to a 128-byte slab object, plus its share
// of the bucket table. Used to state what a set's size implies.
const ElementBytes = 136

// MaxMemory returns the kernel memory s takes when full, by ElementBytes.
func (s *Set) MaxMemory() uint64 { return uint64(s.Size) * ElementBytes }

// BucketBytes returns the memory the kernel takes for s's hash table as
// soon as the set exists, before any element: it sizes the table from the
// declared size (a power of two at or above 4/3 of it, 8 bytes a bucket).
func (s *Set) BucketBytes() uint64 {
	n := uint64(1)
	for n < uint64(s.Size)*4/3 {
		n <<= 1
	}
	return max(n, 4) * 8
}

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
