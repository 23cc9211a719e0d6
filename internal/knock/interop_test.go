//go:build linux

package knock_test

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/knockc/knockc/internal/knock"
	"github.com/knockc/knockc/internal/testenv/netns"
)

// startKnockd runs the real knockd inside p's server namespace, listening
// on the server's veth end, with a door that, instead of calling iptables,
// touches DIR/opened-%IP%. It returns DIR once knockd has logged that it
// listens; the process is killed in t.Cleanup.
func startKnockd(t *testing.T, p *netns.Pair, sequence string) string {
	t.Helper()
	dir := t.TempDir()
	log := filepath.Join(dir, "knockd.log")
	conf := fmt.Sprintf(`[options]
	LogFile = %s

[openTest]
	sequence    = %s
	seq_timeout = 5
	tcpflags    = syn
	command     = /usr/bin/touch %s/opened-%%IP%%
`, log, sequence, dir)
	path := filepath.Join(dir, "knockd.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	p.Server.Start(t, "knockd", "-i", p.ServerIf, "-c", path, "-v")
	waitUntil(t, "knockd to listen on "+p.ServerIf, 5*time.Second, func() bool {
		b, _ := os.ReadFile(log)
		return strings.Contains(string(b), "starting up, listening on "+p.ServerIf)
	})
	return dir
}

// waitUntil polls cond every 10 ms and fails the test when it does not
// hold within timeout.
func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// knockc's client opens a knockd door: knockd sees the TCP SYNs and UDP
// datagrams as its sequence, over IPv4 and IPv6, and runs its command with
// the client's address; half the sequence does not.
func TestIntegrationInteropKnockcOpensKnockdDoor(t *testing.T) {
	netns.RequireRoot(t, "nft", "knockd", "knock")
	t.Parallel()
	p := netns.NewPair(t)
	dir := startKnockd(t, p, "7000,8000:udp,9000")
	marker := func(a netip.Addr) string { return filepath.Join(dir, "opened-"+a.String()) }

	// Half the sequence, from a second address of the client (knockd
	// would hold the half-done sequence of the first until seq_timeout).
	second := netip.MustParsePrefix("198.18.1.77/24")
	p.Primary.AddAddr(t, second)
	if err := p.Primary.KnockTCPFrom(second.Addr(), p.ServerV4, 7000); err != nil {
		t.Fatal(err)
	}
	if err := p.Primary.KnockUDPFrom(second.Addr(), p.ServerV4, 8000); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct{ server, client netip.Addr }{{p.ServerV4, p.ClientV4}, {p.ServerV6, p.ClientV6}} {
		seq := steps(t, "7000/tcp", "8000/udp", "9000/tcp")
		if err := knockFrom(t, p.Primary, c.server.String(), seq, knock.Options{Delay: knock.DefaultDelay}); err != nil {
			t.Fatalf("Knock(%s) = %v", c.server, err)
		}
		waitUntil(t, "knockd's command to create "+marker(c.client), 3*time.Second, func() bool {
			_, err := os.Stat(marker(c.client))
			return err == nil
		})
	}
	if _, err := os.Stat(marker(second.Addr())); err == nil {
		t.Errorf("knockd opened its door for %s after half the sequence", second.Addr())
	}
}

// knockd's own client, /usr/bin/knock, opens a knockc door: the classic
// door of examples/ applied in the server's kernel lets the client reach
// port 22 after `knock -v HOST 7000 8000 9000`, over IPv4 and IPv6.
func TestIntegrationInteropKnockOpensKnockcDoor(t *testing.T) {
	netns.RequireRoot(t, "nft", "knockd", "knock")
	t.Parallel()
	p := netns.NewPair(t)
	applySpec(t, p, "../../examples/classic-ssh.toml")
	p.Server.Listen(t, 22)
	for _, addr := range []netip.Addr{p.ServerV4, p.ServerV6} {
		if _, err := waitFrom(t, p.Primary, addr, 22, 200*time.Millisecond); err == nil {
			t.Fatalf("port 22 on %s open before knocking", addr)
		}
		out := p.Client.Run(t, "knock", "-v", addr.String(), "7000", "8000", "9000")
		if n := strings.Count(out, "hitting tcp"); n != 3 {
			t.Errorf("knock -v %s printed %d hits, want 3:\n%s", addr, n, out)
		}
		took, err := waitFrom(t, p.Primary, addr, 22, 2*time.Second)
		if err != nil {
			t.Fatalf("port 22 on %s after knock(1): %v", addr, err)
		}
		t.Logf("knock(1) %s: door open after %v", addr, took)
	}
}
