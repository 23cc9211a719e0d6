//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/internal/knock"
	"github.com/knockc/knockc/internal/testenv/netns"
	"github.com/knockc/knockc/internal/token"
	"github.com/knockc/knockc/ruleset"
	"github.com/knockc/knockc/ruleset/nftkernel"
)

// tokenCLISpec is a token door with one-second slots, so a top-up is due
// a second after an apply.
const tokenCLISpec = `[door.ssh]
protect = ["22/tcp"]
[door.ssh.token]
port     = 62201
slot     = "1s"
per_slot = 2
lifetime = "30s"
skew     = "30s"
ahead    = "3m"
keys     = { alice = "alice.key" }
`

// TestKernelTokenTopUpIsNoChange: keygen writes a key check accepts; a
// top-up due is reported by plan and made by apply, but neither counts it
// as a change for --detailed-exitcode; status says how long the door
// opens without one; a key file others may read is refused at its spec
// position by check and by the client.
func TestKernelTokenTopUpIsNoChange(t *testing.T) {
	ns := newKernelNS(t)
	spec := writeSpec(t, tokenCLISpec)
	key := filepath.Join(filepath.Dir(spec), "alice.key")
	out := mustRun(t, 0, "keygen", "--spec", spec, "ssh", "alice")
	mustContain(t, "keygen stdout", out, "Wrote "+key+" (mode 0600)", "knockc knock --key", "ProxyCommand")
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("keygen's key: %v, %v; want mode 0600", fi, err)
	}
	mustRun(t, 1, "keygen", "--spec", spec, "ssh", "alice") // never overwrites
	mustRun(t, 0, "check", spec)
	out = mustRun(t, 0, "apply", "--netns", ns.Path(), spec)
	mustContain(t, "first apply", out, "Apply complete!", "Tokens of door ssh key alice: 0 unspent, added ")

	time.Sleep(1100 * time.Millisecond)
	out = mustRun(t, 0, "plan", "--detailed-exitcode", "--netns", ns.Path(), spec)
	mustContain(t, "plan with a top-up due", out, "No changes.", "apply would add ")
	if regexp.MustCompile(`apply would add 0;`).MatchString(out) {
		t.Errorf("plan a second after apply shows no top-up due:\n%s", out)
	}
	var pj struct {
		Tokens []struct {
			Door, Key   string
			Unspent     int
			Added       int
			LeftSeconds float64 `json:"left_seconds"`
		} `json:"tokens"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, 0, "plan", "--json", "--detailed-exitcode", "--netns", ns.Path(), spec)), &pj); err != nil {
		t.Fatal(err)
	}
	if len(pj.Tokens) != 1 || pj.Tokens[0].Key != "alice" || pj.Tokens[0].Added == 0 || pj.Tokens[0].Unspent == 0 || pj.Tokens[0].LeftSeconds <= 0 {
		t.Errorf("plan --json tokens = %+v, want alice's, with some due and some time left", pj.Tokens)
	}
	out = mustRun(t, 0, "apply", "--detailed-exitcode", "--netns", ns.Path(), spec)
	mustContain(t, "apply of a top-up", out, ", added ")
	out = mustRun(t, 0, "status", "--netns", ns.Path(), spec)
	mustContain(t, "status", out, "Tokens of door ssh key alice: ", "opens without a top-up until ")

	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, "check", spec)
	if code != 1 || !strings.Contains(errOut, spec+":10:14:") || !strings.Contains(errOut, "chmod 600") {
		t.Errorf("check with a key others may read = %d, stderr:\n%s\nwant exit 1 at %s:10:14 naming chmod 600", code, errOut, spec)
	}
	code, _, errOut = runCLI(t, "knock", "--key", key, "198.18.0.1", "ssh")
	if code != 1 || !strings.Contains(errOut, "others may read it") {
		t.Errorf("knock --key with a key others may read = %d, stderr:\n%s", code, errOut)
	}
}

// TestKernelTokenKnockRecovers: knock --key --then-connect from a client
// namespace opens the door; when the token it sends was spent already (the
// state file lost twice within a minute, or a copy raced by someone on the
// path), the door stays shut, the client sends the next token after a
// second, and the door opens: one failed attempt, recovered by itself.
func TestKernelTokenKnockRecovers(t *testing.T) {
	netns.RequireRoot(t, "ip")
	server := netns.New(t, "kctsrv")
	client, err := netns.Link(server, netns.New(t, "kctcli"), 1)
	if err != nil {
		t.Fatal(err)
	}
	server.Listen(t, 22)
	spec := writeSpec(t, strings.NewReplacer(`slot     = "1s"`, `slot     = "30s"`, `ahead    = "3m"`, `ahead    = "10m"`).Replace(tokenCLISpec))
	key := filepath.Join(filepath.Dir(spec), "alice.key")
	mustRun(t, 0, "keygen", "--spec", spec, "ssh", "alice")
	mustRun(t, 0, "apply", "--netns", server.Path(), spec)
	knockFromClient := func() (int, string, string) {
		var code int
		var out, errOut string
		client.NS.Do(func() error {
			code, out, errOut = runCLI(t, "knock", "--key", key, "--then-connect", "22", "--verbose", client.ServerV4.String(), "ssh")
			return nil
		})
		return code, out, errOut
	}
	code, out, errOut := knockFromClient()
	if code != 0 || !strings.Contains(out, "door open after") {
		t.Fatalf("knock --key --then-connect = %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	// Spend the token the client will send next, as a racing copy would.
	k, err := token.ReadKey(key)
	if err != nil {
		t.Fatal(err)
	}
	state, err := os.ReadFile(key + ".state")
	if err != nil {
		t.Fatal(err)
	}
	var door, name string
	var p token.Pair
	if _, err := fmt.Sscanf(string(state), "knockc-token-state v1 door=%s name=%s next=%d:%d", &door, &name, &p.Slot, &p.Counter); err != nil {
		t.Fatalf("state file %q: %v", state, err)
	}
	next := token.Derive(k.Secret, k.Params(), p.Slot, p.Counter)
	client.NS.Do(func() error { return knock.SendToken(client.ServerV4, k.Port, next[:]) })
	conn, err := nftkernel.Open(server.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	time.Sleep(50 * time.Millisecond)
	if err := conn.Remove("knockc", compiler.GrantSet("ssh", ruleset.IPv4), client.V4); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = knockFromClient()
	if code != 0 || !strings.Contains(out, "door open after") || !strings.Contains(errOut, "sending the next token") {
		t.Fatalf("knock --key after its token was spent = %d\nstdout: %s\nstderr: %s\nwant one retry, then open", code, out, errOut)
	}

	// As ssh's ProxyCommand: knock, then relay stdin and stdout over the
	// protected port (the listener echoes).
	if err := conn.Remove("knockc", compiler.GrantSet("ssh", ruleset.IPv4), client.V4); err != nil {
		t.Fatal(err)
	}
	var pout, perr bytes.Buffer
	client.NS.Do(func() error {
		code = run([]string{"knockc", "knock", "--key", key, "--pipe", "22", client.ServerV4.String()}, strings.NewReader("hello through the token door\n"), &pout, &perr)
		return nil
	})
	if code != 0 || pout.String() != "hello through the token door\n" {
		t.Errorf("knock --key --pipe 22 = %d, stdout %q, stderr %q; want the line echoed back", code, pout.String(), perr.String())
	}
}
