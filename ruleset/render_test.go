package ruleset

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 500 * time.Millisecond: "500ms", 5 * time.Second: "5s", 90 * time.Second: "1m30s",
		90*time.Minute + 500*time.Millisecond: "1h30m500ms", 26 * time.Hour: "1d2h",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

// nft names priorities within 10 of a standard one, and only names dstnat
// and srcnat on their own hooks (checked against nft 1.0.6's listing).
func TestPriorityName(t *testing.T) {
	for _, tc := range []struct {
		hook string
		prio int
		want string
	}{
		{"input", -150, "mangle"}, {"input", -140, "mangle + 10"}, {"input", -151, "mangle - 1"},
		{"input", 7, "filter + 7"}, {"input", -400, "-400"}, {"input", -100, "-100"},
		{"prerouting", -100, "dstnat"},
	} {
		if got := PriorityName(HookPoint(tc.hook), tc.prio); got != tc.want {
			t.Errorf("PriorityName(%q, %d) = %q, want %q", tc.hook, tc.prio, got, tc.want)
		}
	}
}

func TestRenderStatements(t *testing.T) {
	for _, tc := range []struct {
		s    Stmt
		want string
	}{
		{CTState{States: []string{"established", "related"}}, "ct state established,related"},
		{IIFName{Name: "eth*"}, `iifname "eth*"`},
		{TCPFlags{Flags: 0x02, Mask: 0x12}, "tcp flags syn / syn,ack"},
		{TCPFlags{Flags: 0x03, Mask: 0x03}, "tcp flags fin,syn / fin,syn"},
		{TCPFlags{Flags: 0x92, Mask: 0xd2}, "tcp flags syn,ack,cwr / syn,ack,ecn,cwr"},
		{TCPFlags{Flags: 0x01, Mask: 0x01}, "tcp flags & fin == fin"},
		{TCPFlags{Flags: 0x02, Mask: 0x02}, "tcp flags & syn == syn"},
		{TCPFlags{Flags: 0x04, Mask: 0x04}, "tcp flags & rst == rst"},
		{TCPFlags{Flags: 0x08, Mask: 0x08}, "tcp flags & psh == psh"},
		{TCPFlags{Flags: 0x10, Mask: 0x10}, "tcp flags & ack == ack"},
		{TCPFlags{Flags: 0x20, Mask: 0x20}, "tcp flags & urg == urg"},
		{TCPFlags{Flags: 0x40, Mask: 0x40}, "tcp flags & ecn == ecn"},
		{TCPFlags{Flags: 0x80, Mask: 0x80}, "tcp flags & cwr == cwr"},
		{TCPFlags{Flags: 0, Mask: 0x02}, "tcp flags ! syn"},
		{TCPFlags{Flags: 0, Mask: 0x12}, "tcp flags ! syn,ack"},
		{TCPFlags{Flags: 0x02, Mask: 0xff}, "tcp flags == syn"},
		{TCPFlags{Flags: 0x80, Mask: 0xff}, "tcp flags == cwr"},
		{TCPFlags{Flags: 0x12, Mask: 0xff}, "tcp flags == 0x12"},
		{TCPFlags{Flags: 0x03, Mask: 0xff}, "tcp flags == 0x3"},
		{TCPFlags{Flags: 0, Mask: 0xff}, "tcp flags == 0x0"},
		{SAddrIn{Family: IPv6, Set: "g", Not: true}, "ip6 saddr != @g"},
		{SAddrPrefix{Prefix: netip.MustParsePrefix("203.0.113.0/24")}, "ip saddr 203.0.113.0/24"},
		{SAddrPrefix{Prefix: netip.MustParsePrefix("10.1.2.3/32")}, "ip saddr 10.1.2.3"},
		{SetSAddr{Op: OpUpdate, Set: "s1", Family: IPv4}, "update @s1 { ip saddr }"},
		{Log{Prefix: "knockc open ssh", Group: 4242}, `log prefix "knockc open ssh" group 4242`},
		{Reject{}, "reject"},
		{Queue{Num: 7, XT: true}, "queue num 7"},
	} {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("%T.String() = %q, want %q", tc.s, got, tc.want)
		}
	}
}

// Render lays a table out as `nft list table` does: sets, then chains,
// tab-indented, a blank line between blocks.
func TestRenderLayout(t *testing.T) {
	got := Render(table(nil))
	want := "table inet knockc {\n\tset ssh_grant_v4 {\n\t\ttype ipv4_addr\n\t\tsize 1024\n\t\tflags dynamic,timeout\n\t\ttimeout 30s\n\t}\n\n"
	if !strings.HasPrefix(got, want) {
		t.Errorf("Render() starts\n%s\nwant\n%s", got, want)
	}
	if !strings.Contains(got, "\tchain input {\n\t\ttype filter hook input priority mangle; policy accept;\n\t\tjump ssh_gate\n\t}\n") {
		t.Errorf("Render() base chain wrong:\n%s", got)
	}
}
