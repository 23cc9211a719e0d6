//go:build linux

package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/internal/testenv/netns"
	"github.com/knockc/knockc/ruleset/nftkernel"
)

// Mistakes in the arguments are reported before any packet is sent.
func TestKnockUsageErrors(t *testing.T) {
	spec := writeSpec(t, "[door.ssh]\nsequence = [\"7000\", \"8000\"]\nprotect = [\"22/tcp\"]\n")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"nothing", []string{"knock"}, "knock needs a host and at least one port"},
		{"host only", []string{"knock", "192.0.2.1"}, "knock needs a host and at least one port"},
		{"bad step", []string{"knock", "192.0.2.1", "7000", "http"}, `knock: parse step 2: "http": port must be a number from 1 to 65535`},
		{"both families", []string{"knock", "-4", "192.0.2.1", "7000", "-6"}, "knock: -4 and -6 exclude each other"},
		{"wrong family literal", []string{"knock", "-6", "192.0.2.1", "7000"}, `knock: resolve "192.0.2.1": 192.0.2.1 is not an IPv6 address`},
		{"close without spec", []string{"knock", "192.0.2.1", "7000", "--close"}, "knock: --close needs --spec FILE and a DOOR"},
		{"port out of range", []string{"knock", "192.0.2.1", "7000", "--then-connect", "70000"}, "knock: --then-connect 70000: port must be a number from 1 to 65535"},
		{"unknown flag", []string{"knock", "192.0.2.1", "7000", "--bogus"}, "knock: flag provided but not defined: --bogus"},
		{"flag without value", []string{"knock", "192.0.2.1", "7000", "--delay"}, "knock: flag needs an argument: --delay"},
		{"spec, three arguments", []string{"knock", "--spec", spec, "192.0.2.1", "ssh", "7000"}, "knock --spec takes HOST DOOR, got 3 arguments"},
		{"spec, unknown door", []string{"knock", "192.0.2.1", "mail", "--spec", spec}, `knock: door "mail": not in ` + spec + " (doors: ssh)"},
		{"spec, no close sequence", []string{"knock", "192.0.2.1", "ssh", "--spec=" + spec, "--close"}, `knock: door "ssh": has no close_sequence`},
		{"spec, missing file", []string{"knock", "--spec", "/nonexistent.toml", "192.0.2.1", "ssh"}, "read spec: open /nonexistent.toml"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tc.args...)
			if code != 1 || out != "" || !strings.Contains(errOut, tc.want) {
				t.Errorf("knockc %q = %d, stdout %q, stderr %q; want 1 and %q", tc.args, code, out, errOut, tc.want)
			}
		})
	}
}

// runIn runs the CLI inside n, as a client there would.
func runIn(t *testing.T, n *netns.NS, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errw bytes.Buffer
	if err := n.Do(func() error {
		code = runLocked(append([]string{"knockc"}, args...), strings.NewReader(""), &out, &errw)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errw.String()
}

// `knockc knock --spec ... HOST ssh --then-connect 22` opens the classic
// door of examples/ applied in the server's kernel, over IPv4 and IPv6; the
// close sequence shuts it again, and a port that stays shut fails in time.
func TestIntegrationKnockCommandOpensDoor(t *testing.T) {
	netns.RequireRoot(t, "nft")
	t.Parallel()
	p := netns.NewPair(t)
	const path = "../../examples/classic-ssh.toml"
	spec, err := compiler.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := nftkernel.Open(p.Server.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Apply(compiler.Compile(spec), nil); err != nil {
		t.Fatal(err)
	}
	p.Server.Listen(t, 22)

	openRE := regexp.MustCompile(`^door open after [0-9.]+(µs|ms)\n$`)
	for _, host := range []string{p.ServerV4.String(), "[" + p.ServerV6.String() + "]"} {
		code, out, errOut := runIn(t, p.Client, "knock", host, "7000", "8000", "--then-connect", "22", "--timeout", "300ms")
		if code != 1 || out != "" || !strings.Contains(errOut, "door did not open: wait for") || !strings.Contains(errOut, "connection refused") {
			t.Errorf("knock %s with half the sequence = %d, %q, %q; want 1 and connection refused", host, code, out, errOut)
		}

		code, out, errOut = runIn(t, p.Client, "knock", "--spec", path, host, "ssh", "--then-connect", "22", "--verbose")
		if code != 0 || !openRE.MatchString(out) {
			t.Fatalf("knock --spec %s %s ssh --then-connect 22 = %d, stdout %q, stderr %q; want 0 and \"door open after …\"", path, host, code, out, errOut)
		}
		if n := strings.Count(errOut, "knockc: knocked "); n != 3 {
			t.Errorf("--verbose wrote %d knock lines, want 3:\n%s", n, errOut)
		}

		code, out, errOut = runIn(t, p.Client, "knock", "--close", "--spec", path, host, "ssh")
		if code != 0 || out != "" || errOut != "" {
			t.Fatalf("knock --close = %d, %q, %q; want 0 and silence", code, out, errOut)
		}
		start := time.Now()
		code, _, errOut = runIn(t, p.Client, "knock", host, "1", "--then-connect", "22", "--timeout", "300ms")
		if code != 1 || !strings.Contains(errOut, "not open after 300ms") {
			t.Errorf("connect after --close = %d, %q; want 1 and the timeout named", code, errOut)
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("a shut door took %v to report, want about 300ms", took)
		}
	}
}
