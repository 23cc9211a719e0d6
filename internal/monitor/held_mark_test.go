//go:build linux

package monitor_test

import (
	"regexp"
	"testing"
	"time"
)

// markHostFirewall allows 22/tcp only for packets carrying knockc's grant
// mark and counts the unmarked ones it drops; like any host firewall it
// lets loopback through (the monitor sees sshd up by connecting over lo).
const markHostFirewall = `table inet host {
	chain input {
		type filter hook input priority filter; policy accept;
		ct state established,related accept
		iifname "lo" accept
		tcp dport 22 meta mark & 0x00000010 == 0x00000010 accept
		tcp dport 22 counter drop
	}
}`

var dropCounter = regexp.MustCompile(`counter packets (\d+)`)

// TestIntegrationHeldSYNKeepsGrantMark: with grant_mark, a pending
// knocker's SYN is marked before it waits in the hold queue and keeps the
// mark when the monitor releases it, so a host firewall that requires the
// mark lets the very first SYN through (docs/stealth.md, "Fail closed
// without knockc's table"): the connect completes without the client's
// 1 s retransmission, and the firewall drops no unmarked SYN.
func TestIntegrationHeldSYNKeepsGrantMark(t *testing.T) {
	t.Parallel()
	e := newSSHEnvWith(t, "1m", "[table]\ngrant_mark = 0x10\n")
	if out, err := e.pair.Server.Exec("nft", markHostFirewall); err != nil {
		t.Fatalf("host firewall: %v\n%s", err, out)
	}
	e.startMonitor()
	took, err := e.knockThenConnect(e.pair.ServerV4, 5*time.Second)
	if err != nil {
		out, _ := e.pair.Server.Exec("nft", "list", "ruleset")
		t.Fatalf("one connect to 22 after the knock: %v\nmonitor log:\n%s\n%s", err, e.mon.out.String(), out)
	}
	t.Logf("knock, then one connect through a mark-requiring firewall: %s", took.Round(time.Millisecond))
	out, err := e.pair.Server.Exec("nft", "list", "chain", "inet", "host", "input")
	if err != nil {
		t.Fatal(err)
	}
	m := dropCounter.FindStringSubmatch(out)
	if m == nil || m[1] != "0" {
		t.Errorf("the host firewall dropped unmarked SYNs to 22 (%v):\n%s", m, out)
	}
	if took > 700*time.Millisecond {
		t.Errorf("connect took %s, want under 700 ms (the held SYN itself got through)", took)
	}
}
