package sandbox

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

// A receiver sums the pseudo header and the segment, checksum included;
// a correct checksum makes that sum 0xffff, so Checksum of it is zero.
func TestPutTCPChecksumVerifies(t *testing.T) {
	for _, c := range []struct{ src, dst string }{
		{"198.18.1.2", "198.18.1.1"},
		{"fd00:6b6e:1::2", "fd00:6b6e:1::1"},
	} {
		src, dst := netip.MustParseAddr(c.src), netip.MustParseAddr(c.dst)
		seg := make([]byte, 20)
		PutTCP(seg, src, dst, 40000, 7000, 12345, 0, SYN)
		var pseudo []byte
		pseudo = append(append(pseudo, src.AsSlice()...), dst.AsSlice()...)
		if src.Is4() {
			pseudo = append(pseudo, 0, 6, 0, 20)
		} else {
			pseudo = append(pseudo, 0, 0, 0, 20, 0, 0, 0, 6)
		}
		if got := Checksum(pseudo, seg); got != 0 {
			t.Errorf("%s→%s: checksum over the segment = %#04x, want 0", src, dst, got)
		}
		if got := binary.BigEndian.Uint16(seg[2:]); got != 7000 || seg[13] != SYN || binary.BigEndian.Uint32(seg[8:]) != 0 {
			t.Errorf("%s→%s: dport %d flags %#02x ack %d, want 7000, SYN, 0", src, dst, got, seg[13], binary.BigEndian.Uint32(seg[8:]))
		}
	}
}

// RFC 1071's worked example: the words 0001 f203 f4f5 f6f7 sum to ddf2.
func TestChecksumRFC1071(t *testing.T) {
	if got := Checksum([]byte{0x00, 0x01, 0xf2, 0x03}, []byte{0xf4, 0xf5, 0xf6, 0xf7}); got != ^uint16(0xddf2) {
		t.Errorf("Checksum(RFC 1071 example) = %#04x, want %#04x", got, ^uint16(0xddf2))
	}
}
