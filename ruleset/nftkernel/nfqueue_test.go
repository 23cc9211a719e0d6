package nftkernel

import (
	"net/netip"
	"testing"

	"github.com/knockc/knockc/ruleset"
)

func TestParseQueueStats(t *testing.T) {
	text := "   17  1234     0 2   128     0     0        0  1\n 4242  5678     3 2   128    12     4       99  1\n"
	dropped, undelivered, ok := parseQueueStats(text, 4242)
	if !ok || dropped != 12 || undelivered != 4 {
		t.Fatalf("parseQueueStats(queue 4242) = %d, %d, %v; want 12, 4, true", dropped, undelivered, ok)
	}
	if _, _, ok := parseQueueStats(text, 9); ok {
		t.Fatal("parseQueueStats(absent queue) = ok, want not found")
	}
}

func TestParseHeld(t *testing.T) {
	v4 := make([]byte, 40)
	v4[0], v4[9] = 0x45, 6
	copy(v4[12:16], []byte{198, 18, 1, 2})
	v4[22], v4[23] = 0, 22
	v6 := make([]byte, 60)
	v6[0], v6[6] = 0x60, 17
	copy(v6[8:24], netip.MustParseAddr("fd00::2").AsSlice())
	v6[42], v6[43] = 0x01, 0xbb
	for _, tc := range []struct {
		name string
		pkt  []byte
		want HeldPacket
		ok   bool
	}{
		{"ipv4 tcp", v4, HeldPacket{Src: netip.MustParseAddr("198.18.1.2"), Port: 22, Proto: ruleset.TCP}, true},
		{"ipv6 udp", v6, HeldPacket{Src: netip.MustParseAddr("fd00::2"), Port: 443, Proto: ruleset.UDP}, true},
		{"truncated", v4[:21], HeldPacket{}, false},
		{"not ip", []byte{0x20, 0, 0}, HeldPacket{}, false},
	} {
		got, ok := parseHeld(tc.pkt)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("%s: parseHeld() = %+v, %v; want %+v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}
