package stealth

import (
	"encoding/binary"
	"net/netip"
)

// TCP flag bits.
const (
	FIN uint8 = 0x01
	SYN uint8 = 0x02
	RST uint8 = 0x04
	PSH uint8 = 0x08
	ACK uint8 = 0x10
	URG uint8 = 0x20
	ECE uint8 = 0x40
	CWR uint8 = 0x80
)

// Transport protocol numbers.
const (
	protoICMP   = 1
	protoTCP    = 6
	protoUDP    = 17
	protoICMPv6 = 58
)

// probeSeq and probeAck are the sequence and acknowledgement numbers of
// every TCP probe, so answers can be written relative to them.
const (
	probeSeq uint32 = 0x1a2b3c4d
	probeAck uint32 = 0x5e6f7081
)

// build returns the IP packet for probe p from src:sport to dst:dport.
func (p Probe) build(src, dst netip.Addr, sport, dport uint16) []byte {
	var l4 []byte
	proto := uint8(protoUDP)
	if p.UDP {
		l4 = make([]byte, 8+len(p.Payload))
		binary.BigEndian.PutUint16(l4[0:], sport)
		binary.BigEndian.PutUint16(l4[2:], dport)
		binary.BigEndian.PutUint16(l4[4:], uint16(len(l4)))
		copy(l4[8:], p.Payload)
		cs := l4Checksum(src, dst, protoUDP, l4)
		if cs == 0 {
			cs = 0xffff // zero means "no checksum" in UDP
		}
		binary.BigEndian.PutUint16(l4[6:], cs)
	} else {
		proto = protoTCP
		l4 = make([]byte, 20+len(p.Payload))
		binary.BigEndian.PutUint16(l4[0:], sport)
		binary.BigEndian.PutUint16(l4[2:], dport)
		binary.BigEndian.PutUint32(l4[4:], probeSeq)
		if p.Flags&ACK != 0 {
			binary.BigEndian.PutUint32(l4[8:], probeAck)
		}
		l4[12] = 5 << 4
		l4[13] = p.Flags
		binary.BigEndian.PutUint16(l4[14:], 64240)
		if p.Flags&URG != 0 {
			binary.BigEndian.PutUint16(l4[18:], 1)
		}
		copy(l4[20:], p.Payload)
		binary.BigEndian.PutUint16(l4[16:], l4Checksum(src, dst, protoTCP, l4))
	}
	if src.Is4() {
		opts := p.Options
		ihl := 20 + len(opts)
		b := make([]byte, ihl+len(l4))
		b[0] = 0x40 | byte(ihl/4)
		b[1] = p.TOS
		binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
		binary.BigEndian.PutUint16(b[4:], uint16(sport)^0x5a5a) // an ID of our own
		b[6] = 0x40                                             // DF, as Linux sends
		b[8] = 64
		b[9] = proto
		s4, d4 := src.As4(), dst.As4()
		copy(b[12:], s4[:])
		copy(b[16:], d4[:])
		copy(b[20:], opts)
		binary.BigEndian.PutUint16(b[10:], checksum(b[:ihl], 0))
		copy(b[ihl:], l4)
		return b
	}
	var ext []byte
	next := proto
	if p.DstOpts {
		// Destination options: next header, length 0 (8 bytes), PadN.
		ext = []byte{proto, 0, 1, 4, 0, 0, 0, 0}
		next = 60
	}
	b := make([]byte, 40+len(ext)+len(l4))
	flow := uint32(0x6)<<28 | uint32(p.TOS)<<20 | uint32(sport)*2654435761&0xfffff
	binary.BigEndian.PutUint32(b[0:], flow)
	binary.BigEndian.PutUint16(b[4:], uint16(len(ext)+len(l4)))
	b[6] = next
	b[7] = 64
	s16, d16 := src.As16(), dst.As16()
	copy(b[8:], s16[:])
	copy(b[24:], d16[:])
	copy(b[40:], ext)
	copy(b[40+len(ext):], l4)
	return b
}

// checksum is the Internet checksum of b added to a partial sum.
func checksum(b []byte, sum uint32) uint16 {
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// pseudoSum is the sum of the pseudo-header of an L4 segment.
func pseudoSum(src, dst netip.Addr, proto uint8, n int) uint32 {
	var sum uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(b[i])<<8 | uint32(b[i+1])
		}
	}
	add(src.AsSlice())
	add(dst.AsSlice())
	sum += uint32(proto) + uint32(n)
	return sum
}

// l4Checksum is the TCP/UDP/ICMPv6 checksum of seg (its checksum field zero).
func l4Checksum(src, dst netip.Addr, proto uint8, seg []byte) uint16 {
	return checksum(seg, pseudoSum(src, dst, proto, len(seg)))
}

// l4Valid reports whether seg's checksum (in place) is right.
func l4Valid(src, dst netip.Addr, proto uint8, seg []byte) bool {
	return checksum(seg, pseudoSum(src, dst, proto, len(seg))) == 0
}

// l4Partial reports whether seg's checksum field (at off) holds what a
// packet with checksum offload (CHECKSUM_PARTIAL) carries until the NIC,
// or the receiving veth, fills it in: the folded pseudo-header sum. A
// capture on a veth sees the stack's own IPv6 resets (and netfilter's IPv4
// ones) in that state; on a wire their checksum is correct, so the harness
// counts it as correct.
func l4Partial(src, dst netip.Addr, proto uint8, seg []byte, off int) bool {
	if len(seg) < off+2 {
		return false
	}
	return binary.BigEndian.Uint16(seg[off:]) == ^checksum(nil, pseudoSum(src, dst, proto, len(seg)))
}
