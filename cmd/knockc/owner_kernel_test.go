//go:build linux

package main

import (
	"strings"
	"testing"
)

// hostFirewall is a host's own table inet filter, as a distribution or an
// admin writes it: knockc must never change or delete it.
const hostFirewall = `table inet filter {
	set blocklist { type ipv4_addr; elements = { 192.0.2.1 } }
	chain input { type filter hook input priority 0; policy accept; ip saddr @blocklist drop; }
	chain forward { type filter hook forward priority 0; policy drop; }
}`

// A spec whose table name collides with the host firewall's: check warns,
// plan, apply and down refuse with a message naming the override, and the
// host's table is byte for byte what it was. down --force does delete it.
func TestKernelRefusesForeignTable(t *testing.T) {
	ns := newKernelNS(t)
	ns.Run(t, "nft", hostFirewall)
	before := ns.Run(t, "nft", "list", "table", "inet", "filter")
	spec := writeSpec(t, "[table]\nname = \"filter\"\n\n[door.ssh]\nsequence = [\"7000\", \"8000\"]\nprotect = [\"22\"]\n")

	code, _, errOut := runCLI(t, "check", spec)
	if code != 0 || !strings.Contains(errOut, `knockc: warning: `+spec+`: table name "filter" is commonly used by`) {
		t.Fatalf("knockc check (name filter) = %d, stderr %q; want 0 and a warning", code, errOut)
	}
	for _, args := range [][]string{
		{"plan", "--netns", ns.Path(), spec},
		{"apply", "--netns", ns.Path(), spec},
		{"down", "--netns", ns.Path(), "--table", "filter"},
		{"down", "--netns", ns.Path(), spec},
	} {
		code, out, errOut := runCLI(t, args...)
		if code != 1 || !strings.Contains(errOut, `table inet "filter": table was not created by knockc`) || !strings.Contains(errOut, "--adopt") {
			t.Errorf("knockc %s = %d\nstdout:\n%s\nstderr:\n%s\nwant exit 1 and a refusal naming --adopt", strings.Join(args, " "), code, out, errOut)
		}
	}
	if after := ns.Run(t, "nft", "list", "table", "inet", "filter"); after != before {
		t.Fatalf("the host's table changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	mustRun(t, 0, "down", "--netns", ns.Path(), "--force", "--table", "filter")
	if out, err := ns.Exec("nft", "list", "table", "inet", "filter"); err == nil {
		t.Fatalf("down --force left the table:\n%s", out)
	}
}

// A table an older knockc applied (no marker) is taken over with --adopt:
// apply marks it, and from then on plain plan and apply work.
func TestKernelAdopt(t *testing.T) {
	ns := newKernelNS(t)
	out := mustRun(t, 0, "render", classicSpec)
	ns.Run(t, "nft", out)
	code, _, errOut := runCLI(t, "apply", "--netns", ns.Path(), classicSpec)
	if code != 1 || !strings.Contains(errOut, "--adopt") {
		t.Fatalf("apply over an unmarked table = %d, %q; want a refusal", code, errOut)
	}
	mustRun(t, 0, "plan", "--netns", ns.Path(), "--adopt", classicSpec)
	mustRun(t, 0, "apply", "--netns", ns.Path(), "--adopt", classicSpec)
	mustContain(t, "plan after adopt", mustRun(t, 0, "plan", "--netns", ns.Path(), classicSpec), "No changes.")
	mustContain(t, "nft list table", ns.Run(t, "nft", "list", "table", "inet", "knockc"), `chain knockc_owner {`, `return comment "knockc owner spec=sha256:`)
}
