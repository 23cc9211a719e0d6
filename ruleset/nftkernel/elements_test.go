//go:build linux

package nftkernel

import (
	"net/netip"
	"testing"
	"time"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/internal/testenv/netns"
)

// Move grants in one batch and restarts the timeout of an address already
// granted (a knocker who knocks again gets a fresh open_for); it works
// whether or not the address was pending.
func TestIntegrationMoveRestartsTimeout(t *testing.T) {
	t.Parallel()
	netns.RequireRoot(t, "ip")
	ns := netns.New(t, "kmove")
	conn, err := Open(ns.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	spec, err := compiler.Parse("m.toml", []byte("[door.ssh]\nsequence = [\"7000\"]\nprotect = [\"22\"]\nservice = \"ssh\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Apply(compiler.Compile(spec), nil); err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr("198.18.7.7")
	left := func(set string) time.Duration {
		t.Helper()
		elems, err := conn.Elements("knockc", set)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range elems {
			if e.Addr == a {
				return e.Expires
			}
		}
		return 0
	}
	if err := conn.Move("knockc", "ssh_pending_v4", "ssh_grant_v4", a, 10*time.Second); err != nil {
		t.Fatalf("Move(not pending) = %v, want the add alone", err)
	}
	if l := left("ssh_grant_v4"); l < 9*time.Second || l > 10*time.Second {
		t.Fatalf("grant after Move(10s) has %v left", l)
	}
	ns.Run(t, "nft", "add", "element", "inet", "knockc", "ssh_pending_v4", "{ 198.18.7.7 }")
	if err := conn.Move("knockc", "ssh_pending_v4", "ssh_grant_v4", a, time.Minute); err != nil {
		t.Fatalf("Move(pending, granted) = %v", err)
	}
	if l := left("ssh_grant_v4"); l < 59*time.Second {
		t.Fatalf("grant after a second Move(1m) has %v left, want its timeout restarted", l)
	}
	if l := left("ssh_pending_v4"); l != 0 {
		t.Fatalf("still pending after Move (%v left)", l)
	}
}
