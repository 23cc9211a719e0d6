//go:build linux

package nftkernel

import (
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/knockc/knockc/internal/testenv/netns"
	"github.com/knockc/knockc/internal/testenv/nftsim"
	"github.com/knockc/knockc/ruleset"
)

// nftsim.CTState says what conntrack makes of a flow's first TCP segment
// for every one of the 256 flag bytes; the kernel's own verdict, read from
// sets a rule fills by ct state, must be the same over IPv4 and IPv6.
func TestIntegrationCTStateOfFirstPackets(t *testing.T) {
	netns.RequireRoot(t, "ip", "nft")
	pair := netns.NewPair(t)
	const table = `table inet kcgct {
	set invalid { type inet_service; flags dynamic; size 1024; }
	set new { type inet_service; flags dynamic; size 1024; }
	chain in {
		type filter hook input priority -150; policy accept;
		tcp dport 40000-40255 ct state invalid add @invalid { tcp dport }
		tcp dport 40000-40255 ct state new add @new { tcp dport }
	}
}
`
	file := filepath.Join(t.TempDir(), "ct.nft")
	if err := os.WriteFile(file, []byte(table), 0o644); err != nil {
		t.Fatal(err)
	}
	c := pair.Primary
	for _, fam := range []struct {
		name     string
		src, dst netip.Addr
	}{{"ipv4", c.V4, c.ServerV4}, {"ipv6", c.V6, c.ServerV6}} {
		pair.Server.Run(t, "nft", "-f", file)
		for f := 0; f < 256; f++ {
			if err := c.SendTCPFlags(fam.src, fam.dst, uint16(40000+f), uint8(f)); err != nil {
				t.Fatal(err)
			}
		}
		got := map[int]string{}
		for _, state := range []string{"invalid", "new"} {
			out := pair.Server.Run(t, "nft", "list", "set", "inet", "kcgct", state)
			for _, m := range regexp.MustCompile(`\b4[0-9]{4}\b`).FindAllString(out, -1) {
				port, _ := strconv.Atoi(m)
				got[port-40000] = state
			}
		}
		mismatches := 0
		for f := 0; f < 256; f++ {
			want := nftsim.CTState(nftsim.Packet{Proto: ruleset.TCP, Flags: uint8(f)})
			if got[f] != want {
				mismatches++
				t.Errorf("%s: first segment with flags %#02x: kernel ct state %q, nftsim.CTState %q", fam.name, f, got[f], want)
			}
		}
		pair.Server.Run(t, "nft", "delete", "table", "inet", "kcgct")
		t.Logf("%s: 256 flag bytes, %d where nftsim.CTState and the kernel differ", fam.name, mismatches)
	}
}
