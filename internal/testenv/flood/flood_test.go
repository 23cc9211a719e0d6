//go:build linux

package flood

import (
	"context"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/knockc/knockc/internal/testenv/netns"
)

// Every packet sent arrives (an nft counter at the server's input hook)
// and is valid TCP (the server's stack answers each SYN to a closed port
// with a reset).
func TestSYNArrivesAtRate(t *testing.T) {
	netns.RequireRoot(t, "ip", "nft")
	p := netns.NewPair(t)
	p.Server.Run(t, "nft", "add table inet t; add chain inet t c { type filter hook input priority 0; }; add rule inet t c tcp dport 7000 tcp flags syn counter")
	before := outRsts(t, p.Server)
	var sent int
	err := p.Client.Do(func() error {
		var err error
		sent, err = SYN(context.Background(), netip.MustParsePrefix("10.99.0.0/16"), p.ServerV4, []uint16{7000}, 5000, 400*time.Millisecond)
		return err
	})
	if err != nil {
		t.Fatalf("SYN() = %v", err)
	}
	if sent < 1500 || sent > 2100 {
		t.Fatalf("SYN(5000/s for 400ms) sent %d packets, want about 2000", sent)
	}
	out := p.Server.Run(t, "nft", "list chain inet t c")
	if !strings.Contains(out, "packets "+strconv.Itoa(sent)+" ") {
		t.Fatalf("server counted other than %d SYNs:\n%s", sent, out)
	}
	// A SYN with a bad checksum would be dropped silently, without a reset.
	if rsts := outRsts(t, p.Server) - before; rsts < sent*9/10 {
		t.Fatalf("server sent %d resets for %d SYNs: the SYNs are not valid TCP", rsts, sent)
	}
}

// outRsts reads the server's TCP OutRsts counter.
func outRsts(t *testing.T, ns *netns.NS) int {
	t.Helper()
	out := ns.Run(t, "cat", "/proc/net/snmp")
	lines := strings.Split(out, "\n")
	for i := 0; i+1 < len(lines); i++ {
		if strings.HasPrefix(lines[i], "Tcp:") && strings.HasPrefix(lines[i+1], "Tcp:") {
			keys, vals := strings.Fields(lines[i]), strings.Fields(lines[i+1])
			for j, k := range keys {
				if k == "OutRsts" {
					n, _ := strconv.Atoi(vals[j])
					return n
				}
			}
		}
	}
	t.Fatal("no OutRsts in /proc/net/snmp")
	return 0
}
