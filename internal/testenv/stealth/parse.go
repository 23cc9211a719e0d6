package stealth

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"
)

// Field is one header field of an answer, its value written relative to
// the probe where the stack derives it from the probe (ports, addresses,
// sequence numbers), so that answers to different ports compare equal.
type Field struct{ Name, Value string }

// sent is one probe as sent: what an answer is read against.
type sent struct {
	probe        Probe
	target       string
	round        int
	src, dst     netip.Addr
	sport, dport uint16
	bytes        []byte
}

// fields describes answer pkt to probe s, every header field in order.
func (s *sent) fields(pkt []byte) []Field {
	var out []Field
	add := func(name, format string, args ...any) {
		out = append(out, Field{name, fmt.Sprintf(format, args...)})
	}
	addr := func(name string, a netip.Addr) {
		switch a {
		case s.dst:
			add(name, "=probe.dst")
		case s.src:
			add(name, "=probe.src")
		default:
			add(name, "%s", a)
		}
	}
	var proto uint8
	var l4 []byte
	var src, dst netip.Addr
	if !s.probe.IPv6 {
		if len(pkt) < 20 {
			add("ip", "short")
			return out
		}
		ihl := int(pkt[0]&0x0f) * 4
		if ihl < 20 || len(pkt) < ihl {
			add("ip.ihl", "%d (bad)", ihl)
			return out
		}
		add("ip.version", "%d", pkt[0]>>4)
		add("ip.ihl", "%d", ihl)
		add("ip.tos", "%#02x", pkt[1])
		add("ip.len", "%d", binary.BigEndian.Uint16(pkt[2:]))
		add("ip.id", "%#04x", binary.BigEndian.Uint16(pkt[4:]))
		fl := binary.BigEndian.Uint16(pkt[6:])
		add("ip.flags", "%s", ipFlags(fl>>13))
		add("ip.frag", "%d", fl&0x1fff)
		add("ip.ttl", "%d", pkt[8])
		add("ip.proto", "%d", pkt[9])
		add("ip.csum", "%s", okBad(checksum(pkt[:ihl], 0) == 0))
		src, dst = netip.AddrFrom4([4]byte(pkt[12:16])), netip.AddrFrom4([4]byte(pkt[16:20]))
		addr("ip.src", src)
		addr("ip.dst", dst)
		add("ip.options", "%s", hexOr(pkt[20:ihl], "none"))
		proto, l4 = pkt[9], pkt[ihl:]
	} else {
		if len(pkt) < 40 {
			add("ip6", "short")
			return out
		}
		w := binary.BigEndian.Uint32(pkt[0:])
		add("ip6.version", "%d", w>>28)
		add("ip6.tclass", "%#02x", (w>>20)&0xff)
		add("ip6.flowlabel", "%#05x", w&0xfffff)
		add("ip6.plen", "%d", binary.BigEndian.Uint16(pkt[4:]))
		add("ip6.nexthdr", "%d", pkt[6])
		add("ip6.hoplimit", "%d", pkt[7])
		src, dst = netip.AddrFrom16([16]byte(pkt[8:24])), netip.AddrFrom16([16]byte(pkt[24:40]))
		addr("ip6.src", src)
		addr("ip6.dst", dst)
		proto, l4 = pkt[6], pkt[40:]
	}
	switch proto {
	case protoTCP:
		out = append(out, s.tcpFields(src, dst, l4)...)
	case protoUDP:
		if len(l4) >= 8 {
			add("udp.sport", "%s", s.port(binary.BigEndian.Uint16(l4[0:]), s.dport))
			add("udp.dport", "%s", s.port(binary.BigEndian.Uint16(l4[2:]), s.sport))
			add("udp.len", "%d", binary.BigEndian.Uint16(l4[4:]))
		}
	case protoICMP, protoICMPv6:
		out = append(out, s.icmpFields(src, dst, proto, l4)...)
	default:
		add("proto", "%d", proto)
	}
	return out
}

// port writes a port as "=probe.X" when it is the probe's port want.
func (s *sent) port(p, want uint16) string {
	if p == want {
		if want == s.dport {
			return "=probe.dport"
		}
		return "=probe.sport"
	}
	return fmt.Sprint(p)
}

// seqValue writes a sequence or acknowledgement number relative to the
// probe's own: 0, the probe's ack, or the probe's seq plus what it used.
func seqValue(v uint32) string {
	switch {
	case v == 0:
		return "0"
	case v == probeAck:
		return "=probe.ack"
	case v-probeSeq < 64:
		return fmt.Sprintf("=probe.seq+%d", v-probeSeq)
	}
	return fmt.Sprintf("%#08x", v)
}

func (s *sent) tcpFields(src, dst netip.Addr, l4 []byte) []Field {
	if len(l4) < 20 {
		return []Field{{"tcp", "short"}}
	}
	doff := int(l4[12]>>4) * 4
	if doff < 20 || doff > len(l4) {
		return []Field{{"tcp.doff", fmt.Sprintf("%d (bad)", doff)}}
	}
	return []Field{
		{"tcp.sport", s.port(binary.BigEndian.Uint16(l4[0:]), s.dport)},
		{"tcp.dport", s.port(binary.BigEndian.Uint16(l4[2:]), s.sport)},
		{"tcp.seq", seqValue(binary.BigEndian.Uint32(l4[4:]))},
		{"tcp.ack", seqValue(binary.BigEndian.Uint32(l4[8:]))},
		{"tcp.doff", fmt.Sprint(doff)},
		{"tcp.reserved", fmt.Sprint(l4[12] & 0x0f)},
		{"tcp.flags", flagNames(l4[13])},
		{"tcp.window", fmt.Sprint(binary.BigEndian.Uint16(l4[14:]))},
		{"tcp.csum", okBad(l4Valid(src, dst, protoTCP, l4) || l4Partial(src, dst, protoTCP, l4, 16))},
		{"tcp.urgptr", fmt.Sprint(binary.BigEndian.Uint16(l4[18:]))},
		{"tcp.options", hexOr(l4[20:doff], "none")},
		{"tcp.payload", hexOr(l4[doff:], "none")},
	}
}

func (s *sent) icmpFields(src, dst netip.Addr, proto uint8, l4 []byte) []Field {
	if len(l4) < 8 {
		return []Field{{"icmp", "short"}}
	}
	valid := checksum(l4, 0) == 0
	if proto == protoICMPv6 {
		valid = l4Valid(src, dst, protoICMPv6, l4) || l4Partial(src, dst, protoICMPv6, l4, 2)
	}
	quote := l4[8:]
	return []Field{
		{"icmp.type", fmt.Sprint(l4[0])},
		{"icmp.code", fmt.Sprint(l4[1])},
		{"icmp.csum", okBad(valid)},
		{"icmp.rest", hex.EncodeToString(l4[4:8])},
		{"icmp.quote", quoteValue(quote, s.bytes)},
	}
}

// quoteValue compares the packet an ICMP error quotes with the probe:
// "=probe[:N]" when the quote is the probe's first N bytes, else the
// offsets that differ.
func quoteValue(quote, probe []byte) string {
	n := len(quote)
	if n > len(probe) {
		return fmt.Sprintf("%d bytes, longer than the probe (%d)", n, len(probe))
	}
	var diff []string
	for i := range quote {
		if quote[i] != probe[i] {
			diff = append(diff, fmt.Sprint(i))
		}
	}
	if len(diff) == 0 {
		return fmt.Sprintf("=probe[:%d]", n)
	}
	return fmt.Sprintf("probe[:%d] differing at bytes %s", n, strings.Join(diff, ","))
}

func ipFlags(f uint16) string {
	var n []string
	if f&2 != 0 {
		n = append(n, "DF")
	}
	if f&1 != 0 {
		n = append(n, "MF")
	}
	if f&4 != 0 {
		n = append(n, "evil")
	}
	return strings.Join(n, ",")
}

var flagNameList = []string{"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"}

func flagNames(b uint8) string {
	var n []string
	for i, name := range flagNameList {
		if b&(1<<i) != 0 {
			n = append(n, name)
		}
	}
	if len(n) == 0 {
		return "none"
	}
	return strings.Join(n, ",")
}

func okBad(ok bool) string {
	if ok {
		return "ok"
	}
	return "bad"
}

func hexOr(b []byte, empty string) string {
	if len(b) == 0 {
		return empty
	}
	return hex.EncodeToString(b)
}

// answerSport returns the probe source port an answer belongs to: the
// destination port of a TCP or UDP answer, the source port of the packet
// an ICMP error quotes; ok is false for anything else.
func answerSport(pkt []byte, v6 bool) (uint16, bool) {
	var proto uint8
	var l4 []byte
	if !v6 {
		if len(pkt) < 20 {
			return 0, false
		}
		ihl := int(pkt[0]&0x0f) * 4
		if len(pkt) < ihl {
			return 0, false
		}
		proto, l4 = pkt[9], pkt[ihl:]
	} else {
		if len(pkt) < 40 {
			return 0, false
		}
		proto, l4 = pkt[6], pkt[40:]
	}
	switch proto {
	case protoTCP, protoUDP:
		if len(l4) < 4 {
			return 0, false
		}
		return binary.BigEndian.Uint16(l4[2:]), true
	case protoICMP:
		if len(l4) < 8+20 || l4[0] != 3 && l4[0] != 11 && l4[0] != 12 {
			return 0, false
		}
		q := l4[8:]
		ihl := int(q[0]&0x0f) * 4
		if len(q) < ihl+2 {
			return 0, false
		}
		return binary.BigEndian.Uint16(q[ihl:]), true
	case protoICMPv6:
		if len(l4) < 8+40+2 || l4[0] >= 128 {
			return 0, false
		}
		off := 8 + 40
		if l4[8+6] == 60 && len(l4) >= off+8+2 { // the quoted probe's destination options
			off += 8 * (1 + int(l4[off+1]))
		}
		if len(l4) < off+2 {
			return 0, false
		}
		return binary.BigEndian.Uint16(l4[off:]), true
	}
	return 0, false
}
