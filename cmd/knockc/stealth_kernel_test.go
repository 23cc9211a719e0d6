//go:build linux

package main

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/knockc/knockc/internal/testenv/netns"
)

// newServerClient returns a server namespace with a listener on 22 and a
// client joined to it by a veth.
func newServerClient(t *testing.T) (*netns.NS, *netns.Client) {
	t.Helper()
	netns.RequireRoot(t, "nft", "ip")
	server, clientNS := netns.New(t, "kcs"), netns.New(t, "kcs")
	client, err := netns.Link(server, clientNS, 1)
	if err != nil {
		t.Fatalf("netns.Link = %v", err)
	}
	server.Listen(t, 22)
	return server, client
}

// TestKernelAnswerPortInUse: apply refuses an answer_port something
// listens on (non-granted packets for protected ports would reach it) and
// leaves the kernel alone; the default, port 0, needs no check.
func TestKernelAnswerPortInUse(t *testing.T) {
	server, _ := newServerClient(t)
	server.Listen(t, 5555)
	spec := writeSpec(t, "[table]\nanswer_port = 5555\n[door.ssh]\nsequence = [\"7000\", \"8000\"]\nprotect = [\"22/tcp\"]\n")
	code, out, errOut := runCLI(t, "apply", "--netns", server.Path(), spec)
	if code != 1 {
		t.Fatalf("apply with a busy answer_port = %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	mustContain(t, "apply stderr", errOut, "table.answer_port = 5555: something listens there (tcp", "nothing was changed")
	if got := server.Run(t, "nft", "list", "tables"); strings.Contains(got, "knockc") {
		t.Errorf("apply refused, yet the kernel has knockc's table:\n%s", got)
	}
	free := writeSpec(t, "[table]\nanswer_port = 5556\n[door.ssh]\nsequence = [\"7000\", \"8000\"]\nprotect = [\"22/tcp\"]\n")
	mustRun(t, 0, "apply", "--netns", server.Path(), free)
}

// markFirewall is a host firewall that allows 22/tcp only for packets
// carrying knockc's grant mark (README, "Living with your firewall").
const markFirewall = `table inet host {
	chain input {
		type filter hook input priority filter; policy accept;
		ct state established,related accept
		iifname "lo" accept
		tcp dport 22 meta mark & 0x00000010 == 0x00000010 accept
		tcp dport 22 drop
	}
}`

// iptablesMarkRules are the README's iptables and ip6tables rules for the
// grant mark, one command line each.
var iptablesMarkRules = [][]string{
	{"-A", "INPUT", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"},
	{"-A", "INPUT", "-i", "lo", "-j", "ACCEPT"},
	{"-A", "INPUT", "-p", "tcp", "--dport", "22", "-m", "mark", "--mark", "0x10/0x10", "-j", "ACCEPT"},
	{"-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "DROP"},
}

// TestKernelGrantMarkFailsClosed: with grant_mark and a host firewall that
// allows the protected port only for marked packets (nft, or iptables and
// ip6tables as the README writes them), deleting knockc's table (nft
// delete table, a flush) closes the port to everyone, knockers included,
// over IPv4 and IPv6, while an established session lives on. Without the
// mark rule (the host firewall allowing 22/tcp outright) the same
// deletion opens the port to everyone: fail open.
func TestKernelGrantMarkFailsClosed(t *testing.T) {
	for _, fw := range []string{"nft", "iptables"} {
		t.Run(fw, func(t *testing.T) {
			t.Parallel()
			server, client := newServerClient(t)
			spec := writeSpec(t, "[table]\ngrant_mark = 0x10\n[door.ssh]\nsequence = [\"7000\", \"8000\"]\nprotect = [\"22/tcp\"]\n")
			mustRun(t, 0, "apply", "--netns", server.Path(), spec)
			if fw == "nft" {
				if out, err := server.Exec("nft", markFirewall); err != nil {
					t.Fatalf("host firewall: %v\n%s", err, out)
				}
			} else {
				netns.RequireRoot(t, "iptables", "ip6tables")
				for _, tool := range []string{"iptables", "ip6tables"} {
					for _, r := range iptablesMarkRules {
						if out, err := server.Exec(tool, r...); err != nil {
							t.Fatalf("%s %v: %v\n%s", tool, r, err, out)
						}
					}
				}
			}
			for _, dst := range []netip.Addr{client.ServerV4, client.ServerV6} {
				// 3 s: a refusal comes at once; the first packet of a fresh
				// link is now and then lost, and the SYN resent after 1 s.
				if got := client.Connect(dst, 22, 3*time.Second); got != netns.Refused {
					t.Errorf("before knocking: connect to [%s]:22 = %s, want refused", dst, got)
				}
				for _, p := range []uint16{7000, 8000} {
					if err := client.KnockTCP(dst, p); err != nil {
						t.Fatal(err)
					}
				}
			}
			conn, err := client.Dial(client.ServerV4, 22, time.Second)
			if err != nil {
				t.Fatalf("after knocking: dial 22 = %v, want a connection (the grant's mark lets it past the host firewall)", err)
			}
			defer conn.Close()
			conn6, err := client.Dial(client.ServerV6, 22, time.Second)
			if err != nil {
				t.Fatalf("after knocking: dial [%s]:22 = %v, want a connection", client.ServerV6, err)
			}
			defer conn6.Close()
			echo(t, conn, "before")

			server.Run(t, "nft", "delete", "table", "inet", "knockc")
			other, err := netns.Link(server, netns.New(t, "kcs"), 2)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				who string
				c   *netns.Client
			}{{"the knocker", client}, {"a stranger", other}} {
				for _, dst := range []netip.Addr{c.c.ServerV4, c.c.ServerV6} {
					if got := c.c.Connect(dst, 22, 500*time.Millisecond); got != netns.Timeout {
						t.Errorf("no knockc table, mark rule: %s's new connect to [%s]:22 = %s, want timeout (closed)", c.who, dst, got)
					}
				}
			}
			echo(t, conn, "after the table was deleted")
			echo(t, conn6, "after the table was deleted (IPv6)")

			if fw != "nft" {
				return
			}
			// The same host firewall without the mark: the port falls open.
			server.Run(t, "nft", "flush", "chain", "inet", "host", "input")
			server.Run(t, "nft", "add", "rule", "inet", "host", "input", "tcp", "dport", "22", "accept")
			if got := other.Connect(other.ServerV4, 22, time.Second); got != netns.Open {
				t.Errorf("no knockc table, plain allow rule: a stranger's connect to 22 = %s; this setup fails open, the test expects it to", got)
			}
		})
	}
}

// echo checks that an established session still carries data both ways.
func echo(t *testing.T, conn net.Conn, when string) {
	t.Helper()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	msg := fmt.Sprintf("ping %s\n", when)
	if _, err := conn.Write([]byte(msg)); err != nil {
		t.Fatalf("%s: write on the established session: %v", when, err)
	}
	got, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || got != msg {
		t.Fatalf("%s: echo on the established session = %q, %v; want %q", when, got, err, msg)
	}
}
