package ruleset

import "fmt"

// Payload is a raw payload field as nft writes it, "@th,64,128": a header
// base ("th": the transport header), a bit offset and a bit length. knockc
// uses one: TokenField.
type Payload struct {
	Base   string
	Offset uint32 // bits
	Len    uint32 // bits
}

// TokenField is the first 16 bytes of a UDP datagram's payload (after its
// 8-byte header), where a knock token travels.
var TokenField = Payload{Base: "th", Offset: 64, Len: 128}

// String returns the field in nft syntax: "@th,64,128".
func (p Payload) String() string { return fmt.Sprintf("@%s,%d,%d", p.Base, p.Offset, p.Len) }

// NFProto matches the packet's address family. nft writes it itself in
// front of the first address load of a rule; knockc writes it first in a
// rule whose earlier statements change state (a token spent by the IPv4
// rule must not be the IPv6 packet's), and nft then lists it.
type NFProto struct{ Family Family }

// PayloadIn matches a raw payload field against a set keyed by it.
type PayloadIn struct {
	Field Payload
	Set   string
}

// SetPayload adds, updates or deletes a raw payload field in a set keyed
// by it: a token rule deletes the token it matched.
type SetPayload struct {
	Op    SetOp
	Set   string
	Field Payload
}

func (NFProto) stmt()    {}
func (PayloadIn) stmt()  {}
func (SetPayload) stmt() {}

func (s NFProto) String() string { return "meta nfproto " + s.Family.String() }

func (s PayloadIn) String() string { return s.Field.String() + " @" + s.Set }

func (s SetPayload) String() string {
	return fmt.Sprintf("%s @%s { %s }", s.Op, s.Set, s.Field)
}
