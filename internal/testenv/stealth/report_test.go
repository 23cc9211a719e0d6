package stealth

import (
	"net/netip"
	"strings"
	"testing"
)

// TestBuildChecksums: every probe the harness builds carries correct IPv4
// header and TCP/UDP checksums, so answers are not to broken packets.
func TestBuildChecksums(t *testing.T) {
	for _, p := range Probes() {
		src, dst := netip.MustParseAddr("198.18.1.2"), netip.MustParseAddr("198.18.1.1")
		if p.IPv6 {
			src, dst = netip.MustParseAddr("fd00:6b6e:1::2"), netip.MustParseAddr("fd00:6b6e:1::1")
		}
		b := p.build(src, dst, 20000, 22)
		var l4 []byte
		proto := uint8(protoTCP)
		if p.UDP {
			proto = protoUDP
		}
		if !p.IPv6 {
			ihl := int(b[0]&0x0f) * 4
			if checksum(b[:ihl], 0) != 0 {
				t.Errorf("%s %s: bad IPv4 header checksum", p.Family(), p.Name)
			}
			l4 = b[ihl:]
		} else {
			l4 = b[40:]
			if p.DstOpts {
				l4 = b[48:]
			}
		}
		if !l4Valid(src, dst, proto, l4) {
			t.Errorf("%s %s: bad L4 checksum", p.Family(), p.Name)
		}
	}
}

func TestSeqValue(t *testing.T) {
	for v, want := range map[uint32]string{0: "0", probeAck: "=probe.ack", probeSeq + 1: "=probe.seq+1", 0xdeadbeef: "0xdeadbeef"} {
		if got := seqValue(v); got != want {
			t.Errorf("seqValue(%#x) = %q, want %q", v, got, want)
		}
	}
}

func TestQuoteValue(t *testing.T) {
	probe := []byte{1, 2, 3, 4}
	for _, tc := range []struct {
		quote []byte
		want  string
	}{
		{[]byte{1, 2, 3}, "=probe[:3]"},
		{[]byte{1, 9, 3, 8}, "probe[:4] differing at bytes 1,3"},
		{[]byte{1, 2, 3, 4, 5}, "5 bytes, longer than the probe (4)"},
	} {
		if got := quoteValue(tc.quote, probe); got != tc.want {
			t.Errorf("quoteValue(%v) = %q, want %q", tc.quote, got, tc.want)
		}
	}
}

// TestCompare: stable fields must be equal; volatile ones (differing
// between the references) only in shape: zero-ness, and varying per flow
// where the references vary.
func TestCompare(t *testing.T) {
	f := func(kv ...string) []Field {
		var out []Field
		for i := 0; i < len(kv); i += 2 {
			out = append(out, Field{kv[i], kv[i+1]})
		}
		return out
	}
	refs := [][]Field{
		f("ttl", "64", "flow", "0x1"), f("ttl", "64", "flow", "0x2"),
		f("ttl", "64", "flow", "0x3"), f("ttl", "64", "flow", "0x4"),
	}
	vol := map[string]bool{"flow": true}
	names := []string{"ttl", "flow"}
	for _, tc := range []struct {
		name string
		got  [][]Field
		want []string // field names that must be reported
	}{
		{"same shape", [][]Field{f("ttl", "64", "flow", "0x9"), f("ttl", "64", "flow", "0x8")}, nil},
		{"stable field differs", [][]Field{f("ttl", "63", "flow", "0x9"), f("ttl", "64", "flow", "0x8")}, []string{"ttl"}},
		{"zero where never zero", [][]Field{f("ttl", "64", "flow", "0x0"), f("ttl", "64", "flow", "0x0")}, []string{"flow"}},
		{"constant where varying", [][]Field{f("ttl", "64", "flow", "0x7"), f("ttl", "64", "flow", "0x7")}, []string{"flow"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := compare(refs, tc.got, names, vol)
			var got []string
			for _, d := range c.Diffs {
				got = append(got, d[:strings.Index(d, ":")])
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("compare = %q, want fields %q", c.Diffs, tc.want)
			}
		})
	}
}
