//go:build linux

// Package ansible_test runs the knockc Ansible module with a real
// ansible-playbook (Debian's ansible-core) against throwaway network
// namespaces, through the scenarios an operator meets.
package ansible_test

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/knockc/knockc/internal/testenv"
	"github.com/knockc/knockc/internal/testenv/netns"
	"github.com/knockc/knockc/ruleset/nftkernel"
)

// buildKnockc builds the knockc binary for the test, with a version.
func buildKnockc(t *testing.T) string {
	t.Helper()
	return testenv.BuildKnockc(t, t.TempDir(), "ansible-test")
}

// playbook runs ansible-playbook on localhost with the module of this
// folder and returns the report of testdata/callback_plugins/report.py.
type playbook struct {
	t      *testing.T
	dir    string
	inv    string
	env    []string
	extra  map[string]string
	ns     *netns.NS
	wrap   []string // runs ansible-playbook through this command (nsenter)
	report []row
}

// row is one line of the scenario table.
type row struct {
	scenario            string
	changed, ok, failed int
	commits             uint32
	note                string
}

func newPlaybook(t *testing.T, ns *netns.NS, bin string) *playbook {
	t.Helper()
	netns.RequireRoot(t, "ansible-playbook", "nft")
	dir := t.TempDir()
	inv := filepath.Join(dir, "inventory")
	if err := os.WriteFile(inv, []byte("localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	lib, err := filepath.Abs("library")
	if err != nil {
		t.Fatal(err)
	}
	callbacks, err := filepath.Abs("testdata/callback_plugins")
	if err != nil {
		t.Fatal(err)
	}
	roles, err := filepath.Abs("roles")
	if err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(),
		"ANSIBLE_LIBRARY="+lib, "ANSIBLE_ROLES_PATH="+roles,
		"ANSIBLE_CALLBACK_PLUGINS="+callbacks, "ANSIBLE_STDOUT_CALLBACK=report", "ANSIBLE_NOCOLOR=1", "ANSIBLE_NOCOWS=1",
		"ANSIBLE_RETRY_FILES_ENABLED=0", "ANSIBLE_DEPRECATION_WARNINGS=0",
		"ANSIBLE_HOME="+filepath.Join(dir, "home"), "ANSIBLE_LOCAL_TEMP="+filepath.Join(dir, "tmp"),
		"ANSIBLE_REMOTE_TEMP="+filepath.Join(dir, "rtmp"))
	return &playbook{t: t, dir: dir, inv: inv, env: env, ns: ns,
		extra: map[string]string{"knockc_bin": bin, "netns": ns.Path()}}
}

// result is what the JSON callback reports of one run.
type result struct {
	Tasks []struct {
		Task   string
		Host   string
		Result taskResult
	}
	Stats map[string]struct{ Changed, Ok, Failures, Skipped int }
}

// taskResult is one task's outcome on localhost.
type taskResult struct {
	Changed  bool
	Failed   bool
	Msg      string
	Warnings []string
	Diff     any
	Problems []struct {
		File    string
		Line    int
		Column  int
		Message string
	}
	Plan struct {
		Resets  int
		Changes []struct{ Action, Name string }
	}
}

// moduleTask is the task under test: the module fed with the spec text.
func moduleTask(spec string) string {
	return fmt.Sprintf(`- hosts: localhost
  gather_facts: false
  tasks:
    - name: knock spec in the kernel
      knockc:
        content: %s
        netns: "{{ netns }}"
        binary: "{{ knockc_bin }}"
`, jsonString(spec))
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// run runs the play with args and returns the report of its last task
// and the number of nf_tables commits it caused in the namespace.
func (p *playbook) run(scenario, play string, args ...string) (taskResult, result) {
	p.t.Helper()
	path := filepath.Join(p.dir, "play.yml")
	if err := os.WriteFile(path, []byte(play), 0o644); err != nil {
		p.t.Fatal(err)
	}
	extra, _ := json.Marshal(p.extra)
	before := p.generation()
	argv := append(append(append([]string{}, p.wrap...), "ansible-playbook", "-i", p.inv, "-e", string(extra), path), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = p.env
	out, err := cmd.Output()
	var res result
	if jerr := json.Unmarshal(out, &res); jerr != nil {
		p.t.Fatalf("%s: ansible-playbook = %v; output is not the report callback's: %v\n%s", scenario, err, jerr, out)
	}
	commits := p.generation() - before
	var last taskResult
	if n := len(res.Tasks); n > 0 {
		last = res.Tasks[n-1].Result
	}
	st := res.Stats["localhost"]
	note := last.Msg
	if len(last.Warnings) > 0 {
		note = "warning: " + last.Warnings[0]
	}
	p.report = append(p.report, row{scenario, st.Changed, st.Ok, st.Failures, commits, note})
	return last, res
}

// generation is the namespace's nf_tables generation: every batch the
// kernel commits adds one, so the difference counts netlink writes that
// changed something.
func (p *playbook) generation() uint32 {
	p.t.Helper()
	conn, err := nftkernel.Open(p.ns.Path())
	if err != nil {
		p.t.Fatalf("nftkernel.Open(%q) = %v", p.ns.Path(), err)
	}
	defer conn.Close()
	g, err := conn.Generation()
	if err != nil {
		p.t.Fatalf("Generation() = %v", err)
	}
	return g
}

// want fails the test unless the last run's stats are as given.
func (p *playbook) want(changed, failed int) {
	p.t.Helper()
	r := p.report[len(p.report)-1]
	if r.changed != changed || r.failed != failed {
		p.t.Errorf("%s: changed=%d failed=%d, want changed=%d failed=%d (%s)", r.scenario, r.changed, r.failed, changed, failed, r.note)
	}
}

// publish logs the scenario table and, when KNOCKC_REPORT_DIR is set
// (.ci/run sets it), writes it to a file there for CI to print.
func (p *playbook) publish(title string) {
	var b strings.Builder
	p.table(&b)
	p.t.Logf("%s:\n%s", title, b.String())
	if dir := os.Getenv("KNOCKC_REPORT_DIR"); dir != "" {
		name := filepath.Join(dir, strings.ReplaceAll(p.t.Name(), "/", "_")+".txt")
		if err := os.WriteFile(name, []byte(title+"\n"+b.String()), 0o644); err != nil {
			p.t.Errorf("write report: %v", err)
		}
	}
}

// table writes the scenario table.
func (p *playbook) table(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tchanged\tok\tfailed\tnf_tables commits\twhat the module said")
	for _, r := range p.report {
		note := r.note
		if len(note) > 110 {
			note = note[:107] + "..."
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\n", r.scenario, r.changed, r.ok, r.failed, r.commits, note)
	}
	tw.Flush()
}

// nftList returns `nft list ruleset` in the namespace.
func nftList(t *testing.T, ns *netns.NS) string {
	t.Helper()
	return ns.Run(t, "nft", "list", "ruleset")
}

// holdOwnedTable makes another process own table inet knockc in ns (nft's
// "owner" flag), marked as knockc's own (see nftkernel.OwnerChain) so that
// knockc goes ahead: until that process exits, the kernel refuses every
// batch that touches the table, as it refuses any batch it cannot carry
// out.
func holdOwnedTable(t *testing.T, ns *netns.NS) {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns.Name, "nft", "-i")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("nft -i: %v", err)
	}
	t.Cleanup(func() { in.Close(); cmd.Wait() })
	io.WriteString(in, "add table inet knockc { flags owner; }\n"+
		"add chain inet knockc "+nftkernel.OwnerChain+"\n"+
		"add rule inet knockc "+nftkernel.OwnerChain+" return comment \"knockc owner spec=sha256:00 applied=2026-01-01T00:00:00Z\"\n")
	for i := 0; i < 100; i++ {
		if strings.Contains(nftList(t, ns), "knockc owner") {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("nft -i did not create its owned table")
}

func TestAnsibleModuleScenarios(t *testing.T) {
	ns := netns.New(t, "kco")
	p := newPlaybook(t, ns, buildKnockc(t))
	spec, err := os.ReadFile("../classic-ssh.toml")
	if err != nil {
		t.Fatal(err)
	}
	classic := string(spec)
	longer := strings.Replace(classic, `open_for = "30s"`, `open_for = "45s"`, 1)
	defer p.publish("Ansible scenarios: knockc module, ansible-playbook against a throwaway network namespace")

	p.run("fresh host", moduleTask(classic))
	p.want(1, 0)
	if !strings.Contains(nftList(t, ns), "chain ssh_gate") {
		t.Errorf("fresh host: no knockc table after the play")
	}

	p.run("rerun", moduleTask(classic))
	p.want(0, 0)
	if r := p.report[len(p.report)-1]; r.commits != 0 {
		t.Errorf("rerun: %d nf_tables commits, want 0 (nothing sent)", r.commits)
	}

	ns.Run(t, "nft", "add", "element", "inet", "knockc", "ssh_grant_v4", "{ 198.18.9.9 timeout 30s }")
	res, _ := p.run("--check --diff of a change", moduleTask(longer), "--check", "--diff")
	p.want(1, 0)
	if len(res.Warnings) == 0 || !strings.Contains(res.Warnings[0], "1 live entry") {
		t.Errorf("--check --diff: warnings %q, want the live grant's reset announced", res.Warnings)
	}
	if d, _ := json.Marshal(res.Diff); !strings.Contains(string(d), "-/+ set ssh_grant_v4 must be replaced") || !strings.Contains(string(d), `+ \ttimeout 45s`) {
		t.Errorf("--check --diff: diff = %s, want the plan's replacement of ssh_grant_v4", d)
	}
	if r := p.report[len(p.report)-1]; r.commits != 0 || !strings.Contains(nftList(t, ns), "timeout 30s") {
		t.Errorf("--check --diff: %d commits or the kernel changed, want nothing sent", r.commits)
	}

	res, _ = p.run("change resetting a live grant", moduleTask(longer))
	p.want(1, 0)
	if len(res.Warnings) == 0 || !strings.Contains(res.Warnings[0], "1 live entry (knocks in progress or grants) will be reset: ssh_grant_v4") || res.Plan.Resets != 1 {
		t.Errorf("live grant reset: warnings %q, resets %d; want the reset named", res.Warnings, res.Plan.Resets)
	}
	if strings.Contains(nftList(t, ns), "198.18.9.9") {
		t.Errorf("live grant reset: the grant is still there")
	}

	ns.Run(t, "nft", "add", "rule", "inet", "knockc", "ssh_gate", "tcp", "dport", "23", "drop")
	p.run("drift by hand", moduleTask(longer))
	p.want(1, 0)
	if strings.Contains(nftList(t, ns), "dport 23") {
		t.Errorf("drift: the hand-added rule is still there")
	}

	ns.Run(t, "nft", "flush", "ruleset")
	p.run("flushed ruleset", moduleTask(longer))
	p.want(1, 0)
	if !strings.Contains(nftList(t, ns), "chain ssh_gate") {
		t.Errorf("flushed ruleset: the table did not come back")
	}

	badKey := strings.Replace(longer, `open_for = "45s"`, `open_fro = "45s"`, 1)
	res, _ = p.run("bad key", moduleTask(badKey))
	p.want(0, 1)
	if len(res.Problems) != 1 || res.Problems[0].File != "<stdin>" || res.Problems[0].Line == 0 || !strings.Contains(res.Problems[0].Message, `unknown key "open_fro"`) ||
		res.Msg != "the spec has 1 problem; nothing was changed" {
		t.Errorf("bad key: msg %q, problems %+v; want knockc's message and the problem with its place", res.Msg, res.Problems)
	}

	badValue := strings.Replace(classic, `open_for = "30s"`, `open_for = "3 s"`, 1)
	res, _ = p.run("bad value in check mode", moduleTask(badValue), "--check", "--diff")
	p.want(0, 1)
	if len(res.Problems) != 1 || !strings.Contains(res.Problems[0].Message, `"3 s" is not a duration`) {
		t.Errorf("bad value in check mode: problems %+v, want the duration problem", res.Problems)
	}

	absent := `- hosts: localhost
  gather_facts: false
  tasks:
    - name: knockc gone
      knockc:
        state: absent
        netns: "{{ netns }}"
        binary: "{{ knockc_bin }}"
`
	p.run("state=absent", absent)
	p.want(1, 0)
	if strings.Contains(nftList(t, ns), "knockc") {
		t.Errorf("state=absent: the table is still there")
	}
	p.run("state=absent again", absent)
	p.want(0, 0)

	holdOwnedTable(t, ns)
	res, _ = p.run("kernel failure", moduleTask(classic))
	p.want(0, 1)
	if !strings.Contains(res.Msg, "kernel rejected the batch, nothing changed") {
		t.Errorf("kernel failure: msg %q, want knockc's own message", res.Msg)
	}
	for _, r := range p.report {
		if r.failed > 0 && r.commits != 0 {
			t.Errorf("%s: failed with %d nf_tables commits, want none", r.scenario, r.commits)
		}
	}
}

// TestAnsibleModuleDocumentation: ansible-doc reads the module's
// DOCUMENTATION, EXAMPLES and RETURN, so they are valid YAML and complete.
func TestAnsibleModuleDocumentation(t *testing.T) {
	netns.RequireRoot(t, "ansible-doc")
	lib, err := filepath.Abs("library")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ansible-doc", "knockc")
	cmd.Env = append(os.Environ(), "ANSIBLE_LIBRARY="+lib, "ANSIBLE_HOME="+t.TempDir(), "ANSIBLE_NOCOLOR=1", "PAGER=cat")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ansible-doc knockc: %v\n%s", err, out)
	}
	for _, want := range []string{"content", "netns", "state", "EXAMPLES", "RETURN VALUES", "problems"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("ansible-doc knockc lacks %q:\n%s", want, out)
		}
	}
}
