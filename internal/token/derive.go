package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"time"
)

// Size is the length of a token in bytes: the first 16 bytes of the UDP
// payload, which the kernel loads as @th,64,128.
const Size = 16

// Token is one 16-byte token.
type Token [Size]byte

// Params are what the server and the client must agree on to derive the
// same tokens: the door (part of the MAC input, so one key never opens
// another door), the slot length and how many tokens each slot has.
type Params struct {
	Door    string
	Slot    time.Duration
	PerSlot int
}

// Derive returns the token of counter c in slot s:
//
//	HMAC-SHA256(secret, "knockc-token-v1" 0x00 door 0x00 u64(slot in ms) u64(s) u32(c))[:16]
//
// with integers big-endian. The slot length is part of the input so that
// tokens made under two slot lengths never coincide.
func Derive(secret []byte, p Params, s int64, c int) Token {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("knockc-token-v1\x00"))
	m.Write([]byte(p.Door))
	var b [1 + 8 + 8 + 4]byte
	binary.BigEndian.PutUint64(b[1:], uint64(p.Slot.Milliseconds()))
	binary.BigEndian.PutUint64(b[9:], uint64(s))
	binary.BigEndian.PutUint32(b[17:], uint32(c))
	m.Write(b[:])
	var t Token
	copy(t[:], m.Sum(nil))
	return t
}

// Marker returns the secret 16-byte element that carries a key's
// high-water mark in its token set. It is derived like a token but from
// another label, so it never equals one, and nobody without the key can
// name it (or delete it by sending it).
func Marker(secret []byte, door string) Token {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("knockc-mark-v1\x00"))
	m.Write([]byte(door))
	var t Token
	copy(t[:], m.Sum(nil))
	return t
}

// SlotOf returns the slot that holds t: floor(unix ms / slot ms).
func SlotOf(t time.Time, slot time.Duration) int64 {
	ms, l := t.UnixMilli(), slot.Milliseconds()
	s := ms / l
	if ms%l != 0 && ms < 0 {
		s--
	}
	return s
}

// SlotStart returns when slot s begins.
func SlotStart(s int64, slot time.Duration) time.Time {
	return time.UnixMilli(s * slot.Milliseconds())
}
