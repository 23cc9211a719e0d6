//go:build linux

package main

import (
	"strings"
	"testing"

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
