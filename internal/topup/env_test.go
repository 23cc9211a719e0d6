//go:build linux

package topup_test

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/internal/testenv/netns"
	"github.com/knockc/knockc/internal/token"
	"github.com/knockc/knockc/internal/topup"
	"github.com/knockc/knockc/ruleset"
	"github.com/knockc/knockc/ruleset/nftkernel"
)

// tokenEnv is a server namespace with a token door applied and topped up,
// and a client namespace linked to it, holding the door's key.
type tokenEnv struct {
	t      testing.TB
	server *netns.NS
	client *netns.Client
	conn   *nftkernel.Conn
	spec   *compiler.Spec
	keys   topup.Keys
	key    *token.Key // alice's
	dir    string
}

const tokenPort = 62201

// tokenSpec is a token door with keys alice and bob; extra lines go into
// [door.ssh.token].
func tokenSpec(extra string) string {
	return fmt.Sprintf(`[door.ssh]
protect  = ["22/tcp"]
open_for = "30s"
on_open  = ["/bin/sh", "-c", "echo \"$KNOCKC_DOOR $KNOCKC_KEY $KNOCKC_ADDR\" >> \"$0\"", "HOOKFILE"]

[door.ssh.token]
port = %d
keys = { alice = "alice.key", bob = "bob.key" }
%s
`, tokenPort, extra)
}

func newTokenEnv(t testing.TB, extra string) *tokenEnv {
	t.Helper()
	netns.RequireRoot(t, "ip")
	server := netns.New(t, "kctsrv")
	cns := netns.New(t, "kctcli")
	client, err := netns.Link(server, cns, 1)
	if err != nil {
		t.Fatal(err)
	}
	e := &tokenEnv{t: t, server: server, client: client, dir: t.TempDir()}
	path := filepath.Join(e.dir, "knock.toml")
	src := tokenSpec(extra)
	src = strings.ReplaceAll(src, "HOOKFILE", filepath.Join(e.dir, "hook.log"))
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	spec, err := compiler.Load(path)
	if err != nil {
		t.Fatalf("Load(token spec) = %v", err)
	}
	e.spec = spec
	d := spec.Doors[0].Token
	for _, name := range []string{"alice", "bob"} {
		secret, err := token.NewSecret()
		if err != nil {
			t.Fatal(err)
		}
		k := &token.Key{Door: "ssh", Name: name, Secret: secret, Port: d.Port, Slot: d.Slot, PerSlot: d.PerSlot, Skew: d.Skew}
		if err := token.WriteKey(filepath.Join(e.dir, name+".key"), k); err != nil {
			t.Fatal(err)
		}
	}
	if e.keys, err = compiler.TokenKeys(spec); err != nil {
		t.Fatalf("TokenKeys = %v", err)
	}
	e.key = e.keys["ssh"]["alice"]
	if e.conn, err = nftkernel.Open(server.Path()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.conn.Close() })
	e.apply()
	return e
}

// apply applies the spec (knockc apply: config, then the top-up).
func (e *tokenEnv) apply() []topup.Key {
	e.t.Helper()
	if _, err := e.conn.Update(compiler.Compile(e.spec), nftkernel.UpdateOptions{}); err != nil {
		e.t.Fatalf("Update = %v", err)
	}
	return e.topUp(time.Now())
}

func (e *tokenEnv) topUp(now time.Time) []topup.Key {
	e.t.Helper()
	st, err := topup.Run(e.conn, e.spec, e.keys, now, false)
	if err != nil {
		e.t.Fatalf("topup.Run = %v", err)
	}
	return st
}

// dst is the server's address over f.
func (e *tokenEnv) dst(f ruleset.Family) netip.Addr {
	if f == ruleset.IPv6 {
		return e.client.ServerV6
	}
	return e.client.ServerV4
}

// src is the client's address over f.
func (e *tokenEnv) src(f ruleset.Family) netip.Addr {
	if f == ruleset.IPv6 {
		return e.client.V6
	}
	return e.client.V4
}

// send sends payload as one datagram to the token port from the client
// (from src when valid).
func (e *tokenEnv) send(f ruleset.Family, src netip.Addr, payload []byte) {
	e.t.Helper()
	err := e.client.NS.Do(func() error {
		if !src.IsValid() {
			// From the link address itself: with extra addresses on the
			// link, the kernel's source choice could fall on one of them.
			src = e.src(f)
		}
		return sendFrom(src, e.dst(f), payload)
	})
	if err != nil {
		e.t.Fatalf("send token: %v", err)
	}
}

// grants returns the addresses in the grant set of f.
func (e *tokenEnv) grants(f ruleset.Family) []netip.Addr {
	e.t.Helper()
	els, err := e.conn.Elements(e.spec.Table.Name, compiler.GrantSet("ssh", f))
	if err != nil {
		e.t.Fatalf("Elements(grant) = %v", err)
	}
	var out []netip.Addr
	for _, el := range els {
		out = append(out, el.Addr)
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// waitGrant reports whether addr shows up in the grant set within 300 ms
// (the grant is made by the packet itself; the wait covers its delivery).
func (e *tokenEnv) waitGrant(f ruleset.Family, addr netip.Addr) bool {
	e.t.Helper()
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if slices.Contains(e.grants(f), addr) {
			return true
		}
	}
	return false
}

// anyGrant reports whether the grant set of f holds anyone 50 ms after a
// send: a token opens in the packet's own path, long before that.
func (e *tokenEnv) anyGrant(f ruleset.Family) bool {
	e.t.Helper()
	time.Sleep(50 * time.Millisecond)
	return len(e.grants(f)) > 0
}

// ungrant takes every address out of the grant set of f, so the next
// open is seen afresh.
func (e *tokenEnv) ungrant(f ruleset.Family) {
	e.t.Helper()
	for _, a := range e.grants(f) {
		if err := e.conn.Remove(e.spec.Table.Name, compiler.GrantSet("ssh", f), a); err != nil {
			e.t.Fatal(err)
		}
	}
}

// tokens returns the elements of alice's token set: the union of three
// dumps, since one dump may skip elements the kernel's garbage collector
// takes out while it runs (nftkernel.Conn.TokenElement).
func (e *tokenEnv) tokens() map[[16]byte]time.Duration {
	e.t.Helper()
	out := map[[16]byte]time.Duration{}
	for range 3 {
		els, err := e.conn.TokenElements(e.spec.Table.Name, compiler.TokenSet("ssh", "alice"))
		if err != nil {
			e.t.Fatal(err)
		}
		for _, el := range els {
			out[el.Key] = el.Expires
		}
	}
	return out
}

// current returns alice's token c of the slot now is in.
func (e *tokenEnv) current(c int) token.Token {
	return token.Derive(e.key.Secret, e.key.Params(), token.SlotOf(time.Now(), e.key.Slot), c)
}
