package ruleset_test

import (
	"io/fs"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/examples"
	"github.com/knockc/knockc/internal/testenv"
	"github.com/knockc/knockc/ruleset"
)

// golden compares got with testdata/ops/name (testenv.Golden).
func golden(t *testing.T, name, got string) {
	t.Helper()
	testenv.Golden(t, filepath.Join("testdata", "ops", name), []byte(got))
}

// compile loads and compiles a spec.
func compile(t *testing.T, name string, data []byte) *ruleset.Table {
	t.Helper()
	spec, err := compiler.Parse(name, data)
	if err != nil {
		t.Fatalf("Parse(%q) = %v", name, err)
	}
	return compiler.Compile(spec)
}

// The operation list of a first apply of every example, as plan shows it
// and apply sends it: the table, every set, every chain, then every rule.
// Applying the same table again is no operation at all.
func TestTransactionGolden(t *testing.T) {
	names, err := fs.Glob(examples.FS, "*.toml")
	if err != nil || len(names) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			data, _ := fs.ReadFile(examples.FS, name)
			want := compile(t, name, data)
			ops := ruleset.Transaction(want, nil)
			if len(ops) == 0 || ops[0].String() != "add table inet "+want.Name {
				t.Fatalf("Transaction(%s, nil) = %v, want it to start with the table", name, ops)
			}
			rules := 0
			for _, c := range want.Chains {
				rules += len(c.Rules)
			}
			if n := 1 + len(want.Sets) + len(want.Chains) + rules; len(ops) != n {
				t.Errorf("Transaction(%s, nil) has %d operations, want %d (table, sets, chains, rules)", name, len(ops), n)
			}
			golden(t, strings.TrimSuffix(name, ".toml")+".ops", ruleset.Script(ops))
			if again := ruleset.Transaction(want, compile(t, name, data)); len(again) != 0 {
				t.Errorf("Transaction of an unchanged table = %v, want no operation", again)
			}
			if p := ruleset.Diff(want, nil); ruleset.Script(p.Ops) != ruleset.Script(ops) {
				t.Errorf("Diff(want, nil).Ops differs from Transaction(want, nil)")
			}
		})
	}
}

// A change of open_for changes the grant sets' definition: they cannot
// change in place, so the plan replaces them (one add and one destroy
// each), says how many live grants that resets, and the transaction
// deletes and adds them again while every other set, with its elements,
// is left alone.
func TestTransactionReplacesSet(t *testing.T) {
	data, err := fs.ReadFile(examples.FS, "classic-ssh.toml")
	if err != nil {
		t.Fatal(err)
	}
	have := compile(t, "classic-ssh.toml", data)
	grant := have.Set(compiler.GrantSet("ssh", ruleset.IPv4))
	step := have.Set(compiler.StepSet("ssh", compiler.Open, 1, ruleset.IPv4))
	if grant == nil || step == nil {
		t.Fatalf("classic-ssh has no %s or %s set", compiler.GrantSet("ssh", ruleset.IPv4), compiler.StepSet("ssh", compiler.Open, 1, ruleset.IPv4))
	}
	a := netip.MustParseAddr("198.18.1.2")
	grant.Elements = []ruleset.Element{{Addr: a, Expires: 10 * time.Second}, {Addr: a.Next(), Expires: 20 * time.Second}}
	step.Elements = []ruleset.Element{{Addr: a, Expires: time.Second}}
	changed := strings.Replace(string(data), `open_for = "30s"`, `open_for = "45s"`, 1)
	if changed == string(data) {
		t.Fatal(`classic-ssh.toml has no line open_for = "30s"`)
	}
	want := compile(t, "classic-ssh.toml", []byte(changed))

	p := ruleset.Diff(want, have)
	text := p.String()
	for _, line := range []string{
		"-/+ set ssh_grant_v4 must be replaced (resets 2 live entries)\n",
		"-/+ set ssh_grant_v6 must be replaced (resets 0 live entries)\n",
		"Plan: 2 to add, 0 to change, 2 to destroy.\n",
	} {
		if !strings.Contains(text, line) {
			t.Errorf("plan lacks %q:\n%s", line, text)
		}
	}
	script := ruleset.Script(p.Ops)
	for _, line := range []string{"delete set inet knockc ssh_grant_v4\n", "add set inet knockc ssh_grant_v4 { type ipv4_addr; size 1024; flags dynamic,timeout; timeout 45s; }\n"} {
		if !strings.Contains(script, line) {
			t.Errorf("transaction lacks %q", line)
		}
	}
	if strings.Contains(script, " set inet knockc "+step.Name) {
		t.Errorf("transaction touches set %s, whose definition did not change:\n%s", step.Name, script)
	}
	golden(t, "replace-set.ops", text+"\n"+script)
}
