//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/internal/testenv/netns"
	"github.com/knockc/knockc/ruleset"
	"github.com/knockc/knockc/ruleset/nftkernel"
)

// classicSpec is the spec every kernel test of the CLI applies.
const classicSpec = "../../examples/classic-ssh.toml"

// newKernelNS returns a throwaway network namespace for the CLI to work
// in through --netns; it skips without root (fails under CI=true).
func newKernelNS(t *testing.T) *netns.NS {
	t.Helper()
	netns.RequireRoot(t, "nft")
	return netns.New(t, "kcli")
}

// classicObjects returns how many objects (the table, its sets and chains)
// the classic spec compiles to: what a first plan adds.
func classicObjects(t *testing.T) int {
	t.Helper()
	spec, err := compiler.Load(classicSpec)
	if err != nil {
		t.Fatalf("compiler.Load(%q) = %v", classicSpec, err)
	}
	want := compiler.Compile(spec)
	return 1 + len(want.Sets) + len(want.Chains)
}

// generation returns the nf_tables ruleset generation in ns, which every
// batch the kernel commits increments.
func generation(t *testing.T, ns *netns.NS) uint32 {
	t.Helper()
	conn, err := nftkernel.Open(ns.Path())
	if err != nil {
		t.Fatalf("nftkernel.Open(%q) = %v", ns.Path(), err)
	}
	defer conn.Close()
	g, err := conn.Generation()
	if err != nil {
		t.Fatalf("Generation() = %v", err)
	}
	return g
}

// mustRun runs the CLI and fails the test unless it exits with code,
// showing both outputs. It returns stdout.
func mustRun(t *testing.T, code int, args ...string) string {
	t.Helper()
	got, out, errOut := runCLI(t, args...)
	if got != code {
		t.Fatalf("knockc %s = %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), got, code, out, errOut)
	}
	return out
}

// mustContain fails the test for every part of want that text lacks.
func mustContain(t *testing.T, what, text string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("%s lacks %q; got:\n%s", what, w, text)
		}
	}
}

// applyClassic applies the classic spec in ns, failing the test on error.
func applyClassic(t *testing.T, ns *netns.NS) {
	t.Helper()
	out := mustRun(t, 0, "apply", "--netns", ns.Path(), classicSpec)
	mustContain(t, "apply stdout", out, "Apply complete!")
}

// planJSONOut is what the tests read of `plan --json`.
type planJSONOut struct {
	Table   string `json:"table"`
	Add     int    `json:"add"`
	Change  int    `json:"change"`
	Destroy int    `json:"destroy"`
	Changes []struct {
		Action string `json:"action"`
		Kind   string `json:"kind"`
		Name   string `json:"name"`
	} `json:"changes"`
}

func TestKernelPlanEmptyNamespace(t *testing.T) {
	ns := newKernelNS(t)
	n := classicObjects(t)
	gen := generation(t, ns)

	out := mustRun(t, 2, "plan", "--detailed-exitcode", "--netns", ns.Path(), classicSpec)
	mustContain(t, "plan --detailed-exitcode stdout", out,
		"+ table knockc\n",
		"+ set ssh_grant_v4\n",
		"+ chain input\n",
		"+ chain ssh_open\n",
		"+ chain ssh_close\n",
		"+ chain ssh_gate\n",
		"tcp dport 22 reject with tcp reset",
		fmt.Sprintf("Plan: %d to add, 0 to change, 0 to destroy.", n),
	)

	out = mustRun(t, 0, "plan", "--json", "--netns", ns.Path(), classicSpec)
	var p planJSONOut
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("json.Unmarshal(plan --json) = %v; output:\n%s", err, out)
	}
	if p.Table != "knockc" || p.Add != n || p.Change != 0 || p.Destroy != 0 || len(p.Changes) != n {
		t.Errorf("plan --json = table %q, %d/%d/%d to add/change/destroy, %d changes; want \"knockc\", %d/0/0, %d changes",
			p.Table, p.Add, p.Change, p.Destroy, len(p.Changes), n, n)
	}
	for _, c := range p.Changes {
		if c.Action != "create" {
			t.Errorf("plan --json change %s %q: action %q, want \"create\"", c.Kind, c.Name, c.Action)
		}
	}

	if got := generation(t, ns); got != gen {
		t.Errorf("generation after plan = %d, want %d: plan must not change the kernel", got, gen)
	}
	if tables := ns.Run(t, "nft", "list", "tables"); strings.Contains(tables, "knockc") {
		t.Errorf("nft list tables after plan = %q, want no knockc table", tables)
	}
}

func TestKernelApplyTwiceSendsNothing(t *testing.T) {
	ns := newKernelNS(t)
	applyClassic(t, ns)
	gen := generation(t, ns)

	out := mustRun(t, 0, "apply", "--netns", ns.Path(), classicSpec)
	if want := "No changes. Table inet knockc is up to date.\n"; out != want {
		t.Errorf("second apply stdout = %q, want %q", out, want)
	}
	if got := generation(t, ns); got != gen {
		t.Errorf("generation after second apply = %d, want %d (nothing sent)", got, gen)
	}

	out = mustRun(t, 0, "plan", "--detailed-exitcode", "--netns", ns.Path(), classicSpec)
	if want := "No changes. Table inet knockc is up to date.\n"; out != want {
		t.Errorf("plan --detailed-exitcode after apply: stdout = %q, want %q", out, want)
	}
}

func TestKernelPlanShowsDriftAndApplyRepairs(t *testing.T) {
	ns := newKernelNS(t)
	applyClassic(t, ns)
	ns.Run(t, "nft", "add", "rule", "inet", "knockc", "ssh_gate", "tcp", "dport", "23", "drop")

	out := mustRun(t, 2, "plan", "--detailed-exitcode", "--netns", ns.Path(), classicSpec)
	mustContain(t, "plan stdout after a hand edit", out,
		"~ chain ssh_gate\n",
		"- \ttcp dport 23 drop\n",
		"Plan: 0 to add, 1 to change, 0 to destroy.",
	)

	out = mustRun(t, 0, "apply", "--netns", ns.Path(), classicSpec)
	mustContain(t, "apply stdout after a hand edit", out, "Apply complete! 0 added, 1 changed, 0 destroyed.")
	if gate := ns.Run(t, "nft", "list", "chain", "inet", "knockc", "ssh_gate"); strings.Contains(gate, "dport 23") {
		t.Errorf("nft list chain inet knockc ssh_gate after apply still has the hand edit:\n%s", gate)
	}
	out = mustRun(t, 0, "plan", "--detailed-exitcode", "--netns", ns.Path(), classicSpec)
	if want := "No changes. Table inet knockc is up to date.\n"; out != want {
		t.Errorf("plan after repair: stdout = %q, want %q", out, want)
	}
}

// statusJSONOut is what the tests read of `status --json`.
type statusJSONOut struct {
	Table string `json:"table"`
	Doors []struct {
		Door   string `json:"door"`
		Grants []struct {
			Addr string  `json:"addr"`
			Left float64 `json:"left_seconds"`
		} `json:"grants"`
	} `json:"doors"`
}

func TestKernelStatus(t *testing.T) {
	ns := newKernelNS(t)
	applyClassic(t, ns)

	// With the spec or, by --table's default, without.
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"spec", []string{"status", "--netns", ns.Path(), classicSpec}},
		{"default table", []string{"status", "--netns", ns.Path()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := mustRun(t, 0, tc.args...)
			mustContain(t, "status stdout", out, "table inet knockc: 1 door\n", "door ssh\n", "  no knocks in progress\n", "  no grants\n")
		})
	}

	out := mustRun(t, 0, "status", "--json", "--netns", ns.Path(), classicSpec)
	var st statusJSONOut
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("json.Unmarshal(status --json) = %v; output:\n%s", err, out)
	}
	if st.Table != "knockc" || len(st.Doors) != 1 || st.Doors[0].Door != "ssh" || len(st.Doors[0].Grants) != 0 {
		t.Errorf("status --json = %+v, want table knockc with door ssh and no grants", st)
	}

	// A grant added by hand, as the kernel adds one on the last knock.
	ns.Run(t, "nft", "add", "element", "inet", "knockc", "ssh_grant_v4", "{ 198.18.9.9 timeout 30s }")
	out = mustRun(t, 0, "status", "--netns", ns.Path(), classicSpec)
	if re := regexp.MustCompile(`(?m)^  granted 198\.18\.9\.9 +(29|30)s left$`); !re.MatchString(out) {
		t.Errorf("status stdout after a grant does not match %s; got:\n%s", re, out)
	}
	if strings.Contains(out, "no grants") {
		t.Errorf("status stdout after a grant still says \"no grants\":\n%s", out)
	}

	out = mustRun(t, 0, "status", "--json", "--netns", ns.Path(), classicSpec)
	st = statusJSONOut{}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("json.Unmarshal(status --json) = %v; output:\n%s", err, out)
	}
	if len(st.Doors) != 1 || len(st.Doors[0].Grants) != 1 || st.Doors[0].Grants[0].Addr != "198.18.9.9" ||
		st.Doors[0].Grants[0].Left <= 0 || st.Doors[0].Grants[0].Left > 30 {
		t.Errorf("status --json after a grant = %+v, want door ssh granting 198.18.9.9 for at most 30s", st)
	}
}

func TestKernelDown(t *testing.T) {
	ns := newKernelNS(t)
	applyClassic(t, ns)

	out := mustRun(t, 0, "down", "--netns", ns.Path(), classicSpec)
	if want := "Table inet knockc removed.\n"; out != want {
		t.Errorf("down stdout = %q, want %q", out, want)
	}
	if tables := ns.Run(t, "nft", "list", "tables"); strings.Contains(tables, "knockc") {
		t.Errorf("nft list tables after down = %q, want no knockc table", tables)
	}

	out = mustRun(t, 0, "down", "--netns", ns.Path())
	if want := "Table inet knockc is not there; nothing to do.\n"; out != want {
		t.Errorf("second down stdout = %q, want %q", out, want)
	}

	code, out, errOut := runCLI(t, "status", "--netns", ns.Path())
	if want := "knockc: table inet knockc is not in the kernel: run knockc apply first\n"; code != 1 || out != "" || errOut != want {
		t.Errorf("status after down = %d, stdout %q, stderr %q; want 1, nothing, %q", code, out, errOut, want)
	}
}

func TestKernelInvalidSpecChangesNothing(t *testing.T) {
	bad := `[table]
closed = "deny"

[door.ssh]
sequence = ["7000/tcp", "70000/tcp"]
protect  = ["22/tcp"]
open_fro = "30s"
`
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, ns *netns.NS)
	}{
		{"empty namespace", func(*testing.T, *netns.NS) {}},
		{"table applied", applyClassic},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := newKernelNS(t)
			tc.setup(t, ns)
			path := writeSpec(t, bad)
			gen := generation(t, ns)
			before := ns.Run(t, "nft", "list", "ruleset")

			code, out, errOut := runCLI(t, "apply", "--netns", ns.Path(), path)
			if code != 1 || out != "" {
				t.Errorf("apply(invalid spec) = %d, stdout %q; want 1 and nothing on stdout", code, out)
			}
			mustContain(t, "apply(invalid spec) stderr", errOut,
				path+`:2:11: table.closed = "deny"`,
				path+`:5:26: door.ssh.sequence[1]: "70000/tcp": port must be a number from 1 to 65535`,
				path+`:7:1: unknown key "open_fro" in [door.ssh]`,
				"knockc: the spec has 3 problems; nothing was changed",
			)

			if got := generation(t, ns); got != gen {
				t.Errorf("generation after apply(invalid spec) = %d, want %d", got, gen)
			}
			if after := ns.Run(t, "nft", "list", "ruleset"); after != before {
				t.Errorf("nft list ruleset after apply(invalid spec) =\n%s\nwant it unchanged:\n%s", after, before)
			}
		})
	}
}

// plan --operations prints the transaction apply sends: the first apply's
// is every object of the compiled spec in nft syntax, and once applied
// there is none.
func TestKernelPlanOperationsIsTheTransaction(t *testing.T) {
	ns := newKernelNS(t)
	data, err := os.ReadFile(classicSpec)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := compiler.Parse(classicSpec, data)
	if err != nil {
		t.Fatal(err)
	}
	want := ruleset.Script(ruleset.Transaction(compiler.Compile(spec), nil))
	if out := mustRun(t, 2, "plan", "--operations", "--detailed-exitcode", "--netns", ns.Path(), classicSpec); out != want {
		t.Errorf("plan --operations before apply:\n%s\nwant the transaction:\n%s", out, want)
	}
	applyClassic(t, ns)
	if out := mustRun(t, 0, "plan", "--operations", "--netns", ns.Path(), classicSpec); out != "No changes. Table inet knockc is up to date.\n" {
		t.Errorf("plan --operations after apply = %q, want the no-changes sentence", out)
	}
}
