package ruleset

// ElementBytes is knockc's estimate of the kernel memory one element of a
// dynamic timeout set takes: the hash element with its key, timeout and
// expiration extensions rounds up to a 128-byte slab object, plus its share
// of the bucket table. Used to state what a set's size implies.
const ElementBytes = 136

// MaxMemory returns the kernel memory s takes when full, by ElementBytes.
func (s *Set) MaxMemory() uint64 { return uint64(s.Size) * ElementBytes }

// MaxMemory returns the kernel memory every set of t takes when full.
func (t *Table) MaxMemory() (elements, bytes uint64) {
	for _, s := range t.Sets {
		elements += uint64(s.Size)
		bytes += s.MaxMemory()
	}
	return
}
