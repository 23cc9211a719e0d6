//go:build linux

package main

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/knockc/knockc/internal/testenv/netns"
)

// TestKernelGateOnUnlistedInterface: with interfaces = ["eth0"] on a host
// whose only link is another interface (the importer writes knockd's
// `interface = eth0`; the NIC is ens3), apply and status warn, the
// protected port stays closed to a non-knocker on every interface, knocks
// on the unlisted link do not count, and loopback stays open.
func TestKernelGateOnUnlistedInterface(t *testing.T) {
	netns.RequireRoot(t, "nft")
	server, clientNS := netns.New(t, "kcs"), netns.New(t, "kcs")
	client, err := netns.Link(server, clientNS, 1)
	if err != nil {
		t.Fatalf("netns.Link = %v", err)
	}
	server.Listen(t, 22)
	spec := writeSpec(t, `[table]
interfaces = ["eth0"]

[door.ssh]
sequence = ["7000", "8000", "9000"]
protect = ["22/tcp"]
`)
	if got := client.Connect(client.ServerV4, 22, time.Second); got != netns.Open {
		t.Fatalf("before apply: connect to 22 = %s, want open", got)
	}
	code, out, errOut := runCLI(t, "apply", "--netns", server.Path(), spec)
	if code != 0 {
		t.Fatalf("apply = %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	mustContain(t, "apply stderr", errOut, `no interface named "eth0" here`, "protected ports stay closed on every interface")

	if got := client.Connect(client.ServerV4, 22, time.Second); got != netns.Refused {
		t.Errorf("unknocked IPv4 connect to 22 over %s = %s, want refused", client.ServerIf, got)
	}
	if got := client.Connect(client.ServerV6, 22, time.Second); got != netns.Refused {
		t.Errorf("unknocked IPv6 connect to 22 over %s = %s, want refused", client.ServerIf, got)
	}
	for _, port := range []uint16{7000, 8000, 9000} {
		if err := client.KnockTCP(client.ServerV4, port); err != nil {
			t.Fatalf("KnockTCP(%d) = %v", port, err)
		}
	}
	if got := client.Connect(client.ServerV4, 22, time.Second); got != netns.Refused {
		t.Errorf("after a knock over unlisted %s: connect to 22 = %s, want refused (knocks count only on eth0)", client.ServerIf, got)
	}
	local := server.Run(t, "nft", "list", "chain", "inet", "knockc", "input")
	mustContain(t, "input chain", local, `iifname "lo" accept`, `iifname "eth0" jump doors`, "jump ssh_gate")

	status := mustRun(t, 0, "status", "--netns", server.Path(), spec)
	mustContain(t, "status stdout", status, "knocks count on: eth0", `warning: table.interfaces: no interface named "eth0" here`)

	if err := server.Do(func() error {
		c, err := net.DialTimeout("tcp", "127.0.0.1:22", time.Second)
		if err == nil {
			c.Close()
		}
		return err
	}); err != nil {
		t.Errorf("connect to 127.0.0.1:22 over lo = %v, want open (loopback is not gated unless listed)", err)
	}
}

// TestCheckWarnsMissingInterface: check names a listed interface this host
// lacks on stderr and still exits 0 (the spec may be meant for another
// host); a prefix that matches an interface is not reported.
func TestCheckWarnsMissingInterface(t *testing.T) {
	spec := writeSpec(t, "[table]\ninterfaces = [\"kcsnone0\", \"l*\"]\n[door.ssh]\nsequence = [\"7000\"]\nprotect = [\"22/tcp\"]\n")
	code, out, errOut := runCLI(t, "check", spec)
	if code != 0 || out != "" {
		t.Fatalf("check = %d, stdout %q; want 0 and nothing", code, out)
	}
	mustContain(t, "check stderr", errOut, `no interface named "kcsnone0" here`)
	if strings.Contains(errOut, `"l*"`) {
		t.Errorf("check stderr warns about \"l*\", which matches lo:\n%s", errOut)
	}
}
