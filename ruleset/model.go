package ruleset

import (
	"net/netip"
	"time"
)

// Family is the IP family a set holds or a rule matches.
type Family uint8

// The two address families knockc handles.
const (
	IPv4 Family = 4
	IPv6 Family = 6
)

// FamilyOf returns the family of addr: IPv4 for an IPv4 address, IPv6 for
// any other (an IPv4-mapped IPv6 address included: callers Unmap first
// when they mean the IPv4 host).
func FamilyOf(addr netip.Addr) Family {
	if addr.Is4() {
		return IPv4
	}
	return IPv6
}

// String returns the spec's name for f: "ipv4" or "ipv6".
func (f Family) String() string {
	if f == IPv6 {
		return "ipv6"
	}
	return "ipv4"
}

// Suffix returns the short tag used in object names: "v4" or "v6".
func (f Family) Suffix() string {
	if f == IPv6 {
		return "v6"
	}
	return "v4"
}

// KeyType returns the nft datatype of an address of f.
func (f Family) KeyType() string {
	if f == IPv6 {
		return "ipv6_addr"
	}
	return "ipv4_addr"
}

// saddr returns the nft expression for the packet's source address.
func (f Family) saddr() string {
	if f == IPv6 {
		return "ip6 saddr"
	}
	return "ip saddr"
}

// daddr returns the nft expression for the packet's destination address.
func (f Family) daddr() string {
	if f == IPv6 {
		return "ip6 daddr"
	}
	return "ip daddr"
}

// Table is the one inet table knockc owns, with everything in it.
type Table struct {
	Name   string
	Sets   []*Set
	Chains []*Chain
}

// Set is a dynamic set of source addresses whose elements expire: the
// per-step progress of a knock sequence, the pending and the granted
// knockers. Its definition (everything but Elements) is config; Elements
// are state, filled only by reads from the kernel. Sets carry no comment:
// google/nftables v0.3.0 does not read set comments back, so one would
// look changed on every plan; the name says the door and role instead.
type Set struct {
	Name    string
	Family  Family
	Timeout time.Duration // default element timeout
	Size    uint32        // most elements the kernel will hold; always set, or the kernel picks 65535
	// Typeof, when set, keys the set by a raw payload field (a token set,
	// "typeof @th,64,128") instead of an address; Family is then 0 and
	// every element brings its own timeout.
	Typeof *Payload

	Elements []Element // read back from the kernel; never rendered or compared

	// SeedFrom names the sets whose sources an apply that creates this set
	// (new, or replaced) copies into it right after the batch, with this
	// set's timeout: the mid-sequence set starts with every source already
	// in a step or window set (docs/cost.md). Never rendered, compared or
	// read back.
	SeedFrom []string
}

// Element is one address in a set and the time it has left.
type Element struct {
	Addr    netip.Addr
	Expires time.Duration
}

// Chain is a base chain (Hook set) or a regular chain reached by jumps.
type Chain struct {
	Name  string
	Hook  *Hook
	Rules []*Rule
}

// Hook makes a chain a base chain: where in the stack it runs.
type Hook struct {
	Type     ChainType
	Hook     HookPoint
	Priority int
	Policy   Policy
}

// Rule is an ordered list of statements and a comment that names the
// door, role and step it belongs to (kept in the kernel as rule userdata).
type Rule struct {
	Stmts   []Stmt
	Comment string
}

// Set returns the set named name, or nil.
func (t *Table) Set(name string) *Set {
	for _, s := range t.Sets {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Chain returns the chain named name, or nil.
func (t *Table) Chain(name string) *Chain {
	for _, c := range t.Chains {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// SameDefinition reports whether a and b define the same set, ignoring the
// elements they hold. A set whose definition changes must be recreated,
// which loses its elements.
func (s *Set) SameDefinition(o *Set) bool {
	return s.Name == o.Name && s.Family == o.Family && s.Timeout == o.Timeout &&
		s.Size == o.Size && (s.Typeof == nil) == (o.Typeof == nil) && (s.Typeof == nil || *s.Typeof == *o.Typeof)
}

// Queue returns the first queue statement of t, or nil when no rule queues
// packets (or t is nil). On a table read back from the kernel its XT field
// says which form the kernel runs.
func (t *Table) Queue() *Queue {
	if t == nil {
		return nil
	}
	for _, c := range t.Chains {
		for _, r := range c.Rules {
			for _, s := range r.Stmts {
				if q, ok := s.(Queue); ok {
					return &q
				}
			}
		}
	}
	return nil
}
