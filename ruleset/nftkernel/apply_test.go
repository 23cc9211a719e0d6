//go:build linux

package nftkernel

import (
	"errors"
	"io/fs"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/examples"
	"github.com/knockc/knockc/internal/testenv/netns"
	"github.com/knockc/knockc/internal/testenv/specgen"
	"github.com/knockc/knockc/ruleset"
)

// Applying an unchanged spec sends nothing: the plan is empty and the
// kernel's ruleset generation does not move.
func TestIntegrationApplyIsIdempotent(t *testing.T) {
	t.Parallel()
	e := newKnockEnv(t, classicSpec())
	want := compiler.Compile(e.spec)
	if p := ruleset.Diff(want, e.read()); !p.Empty() {
		t.Fatalf("Diff after apply =\n%s\nwant no changes", p)
	}
	before := e.generation()
	if err := e.conn.Apply(want, e.read()); err != nil {
		t.Fatalf("second Apply() = %v", err)
	}
	if after := e.generation(); after != before {
		t.Fatalf("ruleset generation after an unchanged apply = %d, want %d (nothing sent)", after, before)
	}
}

// Knocks in progress and grants survive a re-apply that changes chains
// and rules but no set; a plan that recreates a set says how many live
// entries it resets.
func TestIntegrationReapplyKeepsState(t *testing.T) {
	t.Parallel()
	e := newKnockEnv(t, classicSpec())
	granted, halfway := e.pair.Primary, e.pair.AddClient(t)
	e.knock(granted, v4, "7000/tcp", "8000/tcp", "9000/tcp")
	e.knock(halfway, v4, "7000/tcp")

	plan := e.apply(classicSpecTable(`closed = "drop"`, `protect = ["22/tcp", "2222/tcp"]`))
	if _, changed, _ := plan.Counts(); changed == 0 || plan.Resets() != 0 {
		t.Fatalf("plan for a rules-only change = %s (resets %d), want chain changes and no resets", plan.Summary(), plan.Resets())
	}
	e.wantConnect(granted, v4, netns.Open, "a grant across a re-apply")
	e.knock(halfway, v4, "8000/tcp", "9000/tcp")
	e.wantConnect(halfway, v4, netns.Open, "a knock begun before the re-apply")

	// A changed step_timeout recreates the step sets and the table's
	// mid-sequence set, whose timeout follows the longest step timeout: the
	// plan counts the live entries it throws away (one source past step 1;
	// in knock_mid_v4, the sources that knocked within its timeout).
	late := e.pair.AddClient(t)
	e.knock(late, v4, "7000/tcp")
	want := compiler.Compile(mustParse(t, classicSpecTable(`closed = "drop"`, `protect = ["22/tcp", "2222/tcp"]`, `step_timeout = "3s"`)))
	have := e.read()
	// The mid-sequence entries still live when read (under load the first
	// source's may have timed out already); at least late's is.
	mid := len(have.Set(compiler.MidSet(ruleset.IPv4)).Elements)
	if mid < 1 || mid > 3 {
		t.Fatalf("%s holds %d elements, want 1 to 3", compiler.MidSet(ruleset.IPv4), mid)
	}
	p := ruleset.Diff(want, have)
	if got := p.Resets(); got != 1+mid {
		t.Fatalf("Diff(step_timeout changed).Resets() = %d, want %d (one source past step 1, %d mid-sequence)\n%s", got, 1+mid, mid, p)
	}
	for _, line := range []string{
		"-/+ set ssh_open_s1_v4 must be replaced (resets 1 live entry)",
		"-/+ set knock_mid_v4 must be replaced",
	} {
		if !strings.Contains(p.String(), line) {
			t.Fatalf("plan does not say %q:\n%s", line, p)
		}
	}
}

// An established session to the protected port survives an apply that
// changes the ruleset (grant set recreated included) and a down.
func TestIntegrationEstablishedSessionSurvives(t *testing.T) {
	t.Parallel()
	e := newKnockEnv(t, classicSpec())
	me := e.pair.Primary
	e.knock(me, v4, "7000/tcp", "8000/tcp", "9000/tcp")
	sess, err := me.Dial(me.ServerV4, protectedPort, time.Second)
	if err != nil {
		t.Fatalf("Dial after knock = %v", err)
	}
	defer sess.Close()
	echo(t, sess, "before")

	e.apply(classicSpec(`open_for = "45s"`, `strict = false`)) // recreates the grant sets: my grant is gone
	e.wantConnect(me, v4, netns.Refused, "a new connection after the grant set was recreated")
	echo(t, sess, "after apply")

	if err := e.conn.Delete(compiler.DefaultTableName); err != nil {
		t.Fatalf("Delete() = %v", err)
	}
	if have := e.read(); have != nil {
		t.Fatalf("Read() after Delete = table with %d chains, want none", len(have.Chains))
	}
	echo(t, sess, "after down")
	if err := e.conn.Delete(compiler.DefaultTableName); err != nil {
		t.Fatalf("Delete() of an absent table = %v, want nil", err)
	}
}

// A hand edit to knockc's table shows up as drift, and apply repairs it.
func TestIntegrationDriftIsRepaired(t *testing.T) {
	t.Parallel()
	e := newKnockEnv(t, classicSpec())
	e.pair.Server.Run(t, "nft", "add", "rule", "inet", "knockc", "ssh_gate", "tcp", "dport", "23", "drop")
	e.pair.Server.Run(t, "nft", "add", "chain", "inet", "knockc", "extra")
	want := compiler.Compile(e.spec)
	p := ruleset.Diff(want, e.read())
	out := p.String()
	for _, w := range []string{"~ chain ssh_gate", "- \ttcp dport 23 drop", "- chain extra", "Plan: 0 to add, 1 to change, 1 to destroy."} {
		if !strings.Contains(out, w) {
			t.Errorf("plan after hand edits lacks %q:\n%s", w, out)
		}
	}
	if err := e.conn.Apply(want, e.read()); err != nil {
		t.Fatalf("Apply() = %v", err)
	}
	if p := ruleset.Diff(want, e.read()); !p.Empty() {
		t.Fatalf("Diff after repair =\n%s\nwant no changes", p)
	}
}

// A batch the kernel rejects changes nothing at all, and says so.
func TestIntegrationRejectedBatchChangesNothing(t *testing.T) {
	t.Parallel()
	e := newKnockEnv(t, classicSpec())
	me := e.pair.Primary
	e.knock(me, v4, "7000/tcp", "8000/tcp", "9000/tcp")
	before, gen := ruleset.Render(e.read()), e.generation()

	bad := compiler.Compile(mustParse(t, classicSpec(`open_for = "40s"`)))
	gate := bad.Chain("ssh_gate")
	gate.Rules = append(gate.Rules, &ruleset.Rule{Stmts: []ruleset.Stmt{ruleset.Verdict{Kind: "jump", Chain: "no_such_chain"}}})
	err := e.conn.Apply(bad, e.read())
	if err == nil {
		t.Fatal("Apply(rule jumping to a missing chain) = nil, want the kernel's rejection")
	}
	t.Logf("Apply() error: %v", err)
	// The error is reported against the operation list that was sent.
	refused := "add rule inet knockc ssh_gate jump no_such_chain"
	var ae *ApplyError
	if !errors.As(err, &ae) || !ae.Rejected || ae.Op != refused || ae.Table != "knockc" {
		t.Errorf("Apply() error = %#v, want a rejected *ApplyError at %q", err, refused)
	}
	if script := ruleset.Script(ruleset.Transaction(bad, e.read())); !strings.Contains(script, "\n"+refused+"\n") {
		t.Errorf("the refused operation is not one of the transaction's:\n%s", script)
	}
	for _, want := range []string{"kernel rejected the batch, nothing changed", "at " + refused} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Apply() error = %q, want it to contain %q", err, want)
		}
	}
	if after := ruleset.Render(e.read()); after != before {
		t.Fatalf("table after a rejected batch differs:\n%s", cmp.Diff(before, after))
	}
	if g := e.generation(); g != gen {
		t.Fatalf("generation after a rejected batch = %d, want %d", g, gen)
	}
	e.wantConnect(me, v4, netns.Open, "my grant after a rejected batch")
}

// Every example renders to text that `nft -c -f` accepts, and once applied
// through netlink `nft list table` prints exactly what render printed.
func TestIntegrationExamplesMatchNft(t *testing.T) {
	t.Parallel()
	netns.RequireRoot(t, "ip", "nft")
	ns := netns.New(t, "knex")
	conn, err := Open(ns.Path())
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	defer conn.Close()
	names, err := fs.Glob(examples.FS, "*.toml")
	if err != nil || len(names) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	dir := t.TempDir()
	for _, name := range names {
		data, _ := examples.FS.ReadFile(name)
		spec, err := compiler.Parse(name, data)
		if err != nil {
			t.Fatalf("Parse(%s) = %v", name, err)
		}
		if err := checkAgainstNft(ns, conn, compiler.Compile(spec), dir); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// Every tcp_flags value check accepts applies, and nft lists it as render
// prints it: each single flag, negations, and a mask of all flags.
func TestIntegrationTCPFlagsApply(t *testing.T) {
	t.Parallel()
	netns.RequireRoot(t, "ip", "nft")
	ns := netns.New(t, "knflags")
	conn, err := Open(ns.Path())
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	defer conn.Close()
	dir := t.TempDir()
	for _, flags := range []string{
		"fin", "syn", "rst", "psh", "ack", "urg", "ecn", "cwr",
		"syn,!ack", "syn,ack", "fin,!syn", "cwr,!ecn", "syn,!fin,!rst,!ack",
		"syn,!fin,!rst,!psh,!ack,!urg,!ecn,!cwr",
		"syn,ack,!fin,!rst,!psh,!urg,!ecn,!cwr",
		"fin,syn,rst,psh,ack,urg,ecn,cwr",
	} {
		spec, err := compiler.Parse("flags.toml", []byte(classicSpec(`tcp_flags = "`+flags+`"`)))
		if err != nil {
			t.Errorf("Parse(tcp_flags = %q) = %v", flags, err)
			continue
		}
		if err := checkAgainstNft(ns, conn, compiler.Compile(spec), dir); err != nil {
			t.Errorf("tcp_flags = %q: %v", flags, err)
		}
	}
}

// queueRE finds a queue statement in rendered text.
var queueRE = regexp.MustCompile(`queue num [0-9]+`)

func (e *knockEnv) generation() uint32 {
	e.t.Helper()
	g, err := e.conn.Generation()
	if err != nil {
		e.t.Fatalf("Generation() = %v", err)
	}
	return g
}

func mustParse(t *testing.T, spec string) *compiler.Spec {
	t.Helper()
	s, err := compiler.Parse("test.toml", []byte(spec))
	if err != nil {
		t.Fatalf("Parse(spec) = %v", err)
	}
	return s
}

// A large table goes out as one batch: its messages and their acks must
// fit the socket buffers (the defaults hold fewer than four doors).
func TestIntegrationApplyManyDoors(t *testing.T) {
	t.Parallel()
	netns.RequireRoot(t, "ip")
	ns := netns.New(t, "kbig")
	conn, err := Open(ns.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	spec, err := compiler.Parse("big.toml", specgen.Doors(50, specgen.SmallSets))
	if err != nil {
		t.Fatal(err)
	}
	want := compiler.Compile(spec)
	if err := conn.Apply(want, nil); err != nil {
		t.Fatalf("Apply(50 doors) = %v", err)
	}
	have, err := conn.Read(want.Name)
	if err != nil {
		t.Fatal(err)
	}
	if p := ruleset.Diff(want, have); !p.Empty() {
		t.Fatalf("Diff after applying 50 doors = %s, want no changes", p.Summary())
	}
}
