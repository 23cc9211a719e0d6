//go:build linux

package nftkernel

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/internal/testenv/netns"
	"github.com/knockc/knockc/ruleset"
)

// knockEnv is one test's server and client namespaces with knockc's table
// applied in the server namespace and a listener on the protected port.
type knockEnv struct {
	t    *testing.T
	pair *netns.Pair
	conn *Conn
	spec *compiler.Spec
}

// protectedPort is where every test spec's door and listener sit.
const protectedPort = 22

// newKnockEnv creates the namespaces, applies spec in the server and
// listens on the protected port there, so a connect tells whether the door
// lets the client through (open) or not (refused/timeout).
func newKnockEnv(t *testing.T, spec string) *knockEnv {
	t.Helper()
	netns.RequireRoot(t, "ip", "nft")
	pair := netns.NewPair(t)
	conn, err := Open(pair.Server.Path())
	if err != nil {
		t.Fatalf("Open(%q) = %v", pair.Server.Path(), err)
	}
	t.Cleanup(func() { conn.Close() })
	e := &knockEnv{t: t, pair: pair, conn: conn}
	e.apply(spec)
	pair.Server.Listen(t, protectedPort)
	return e
}

// apply compiles spec and applies it, failing the test on any error.
func (e *knockEnv) apply(spec string) *ruleset.Plan {
	e.t.Helper()
	s, err := compiler.Parse("test.toml", []byte(spec))
	if err != nil {
		e.t.Fatalf("Parse(spec) = %v", err)
	}
	e.spec = s
	want := compiler.Compile(s)
	have := e.read()
	plan := ruleset.Diff(want, have)
	if err := e.conn.Apply(want, have); err != nil {
		e.t.Fatalf("Apply() = %v", err)
	}
	return plan
}

func (e *knockEnv) read() *ruleset.Table {
	e.t.Helper()
	have, err := e.conn.Read(compiler.DefaultTableName)
	if err != nil {
		e.t.Fatalf("Read() = %v", err)
	}
	return have
}

// dst returns the server's address on c's link in family f.
func dst(c *netns.Client, f ruleset.Family) netip.Addr {
	if f == ruleset.IPv6 {
		return c.ServerV6
	}
	return c.ServerV4
}

// knock sends each step ("7000/tcp", "8000/udp") from c over family f.
func (e *knockEnv) knock(c *netns.Client, f ruleset.Family, steps ...string) {
	e.t.Helper()
	for _, s := range steps {
		var st compiler.Step
		if err := st.UnmarshalText([]byte(s)); err != nil {
			e.t.Fatalf("bad step %q: %v", s, err)
		}
		var err error
		if st.Proto == ruleset.UDP {
			err = c.KnockUDP(dst(c, f), st.Port)
		} else {
			err = c.KnockTCP(dst(c, f), st.Port)
		}
		if err != nil {
			e.t.Fatalf("knock %s from %s: %v", s, c.NS.Name, err)
		}
	}
}

// connect tries the protected port from c over f.
func (e *knockEnv) connect(c *netns.Client, f ruleset.Family) netns.Outcome {
	return c.Connect(dst(c, f), protectedPort, 400*time.Millisecond)
}

// wantConnect fails the test unless connecting from c over f gives want.
func (e *knockEnv) wantConnect(c *netns.Client, f ruleset.Family, want netns.Outcome, why string) {
	e.t.Helper()
	if got := e.connect(c, f); got != want {
		e.t.Fatalf("%s: connect %s → [%s]:%d over %s = %s, want %s\nstatus:\n%s", why, c.NS.Name, dst(c, f), protectedPort, f, got, want, e.status())
	}
}

// status describes the sets' contents, for failure messages.
func (e *knockEnv) status() string {
	t, err := e.conn.Read(compiler.DefaultTableName)
	if err != nil || t == nil {
		return fmt.Sprintf("(no table: %v)", err)
	}
	var b strings.Builder
	for _, s := range t.Sets {
		if len(s.Elements) > 0 {
			fmt.Fprintf(&b, "  %s: %v\n", s.Name, s.Elements)
		}
	}
	return b.String()
}

// classicSpec is knockd's classic door with short timeouts for tests;
// each override ("key = value") replaces the default line of that key or
// is added to the door.
func classicSpec(overrides ...string) string {
	return classicSpecTable(`closed = "reject"`, overrides...)
}

// classicSpecTable is classicSpec with the given [table] lines.
func classicSpecTable(table string, overrides ...string) string {
	lines := []string{
		`sequence       = ["7000/tcp", "8000/tcp", "9000/tcp"]`,
		`close_sequence = ["9000/tcp", "8000/tcp", "7000/tcp"]`,
		`protect        = ["22/tcp"]`,
		`step_timeout   = "2s"`,
		`open_for       = "20s"`,
	}
	for _, o := range overrides {
		key, _, _ := strings.Cut(o, "=")
		replaced := false
		for i, l := range lines {
			if k, _, _ := strings.Cut(l, "="); strings.TrimSpace(k) == strings.TrimSpace(key) {
				lines[i], replaced = o, true
			}
		}
		if !replaced {
			lines = append(lines, o)
		}
	}
	return "[table]\n" + table + "\n\n[door.ssh]\n" + strings.Join(lines, "\n") + "\n"
}
