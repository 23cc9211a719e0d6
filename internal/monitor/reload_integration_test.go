//go:build linux

package monitor_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/knockc/knockc/internal/testenv"
	"github.com/knockc/knockc/internal/testenv/netns"
	"github.com/knockc/knockc/ruleset"
	"github.com/knockc/knockc/ruleset/nftkernel"
)

// startBinMonitor runs `knockc monitor ARGS SPEC` in ns with env added to
// a minimal environment, and waits until it reports ready.
func startBinMonitor(t *testing.T, ns *netns.NS, spec string, env []string, args ...string) *monitorProc {
	t.Helper()
	out := &testenv.Buffer{}
	argv := append([]string{"netns", "exec", ns.Name, knockcBin, "monitor", "--log-format", "json"}, args...)
	cmd := exec.Command("ip", append(argv, spec)...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start monitor: %v", err)
	}
	m := &monitorProc{cmd: cmd, out: out}
	t.Cleanup(func() { m.kill(syscall.SIGKILL) })
	waitUntil(t, 10*time.Second, "monitor ready\n"+out.String(), func() bool { return strings.Contains(out.String(), `"monitor ready"`) })
	return m
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// wantKernelTable fails unless ns holds exactly the table spec compiles to.
func wantKernelTable(t *testing.T, ns *netns.NS, spec, what string) {
	t.Helper()
	conn, err := nftkernel.Open(ns.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	want := compile(t, spec)
	have, own, mark, err := conn.ReadOwned(want.Name)
	if err != nil || own != nftkernel.Owned || mark.Spec != nftkernel.SpecHash(want) {
		t.Fatalf("%s: ReadOwned = %v, %+v, %v; want owned with spec %s", what, own, mark, err, nftkernel.SpecHash(want))
	}
	if p := ruleset.Diff(want, have); !p.Empty() {
		t.Fatalf("%s: the table differs from the spec:\n%s", what, p)
	}
}

// SIGHUP re-reads the spec: an invalid one is reported with its position
// and the running spec stays in force; a valid one is applied and served,
// and is what the monitor restores from then on.
func TestIntegrationMonitorReloadsOnSIGHUP(t *testing.T) {
	t.Parallel()
	netns.RequireRoot(t, "ip", "nft")
	ns := netns.New(t, "kcf")
	path := filepath.Join(t.TempDir(), "knock.toml")
	a, b := guardSpec(`"22/tcp"`), guardSpec(`"22/tcp", "2222/tcp"`)
	writeFile(t, path, a)
	m := startBinMonitor(t, ns, path, nil, "--apply")
	wantKernelTable(t, ns, a, "at start")

	writeFile(t, path, a+"bogus = 1\n")
	m.cmd.Process.Signal(syscall.SIGHUP)
	waitUntil(t, 15*time.Second, "the reload to be refused\n"+m.out.String(), func() bool {
		return strings.Contains(m.out.String(), `"msg":"reload: the spec is not valid; the running spec stays in force"`)
	})
	if !strings.Contains(m.out.String(), `knock.toml:5:1: unknown key`) {
		t.Errorf("the refused reload does not name the problem's position:\n%s", m.out.String())
	}
	wantKernelTable(t, ns, a, "after an invalid reload")

	writeFile(t, path, b)
	m.cmd.Process.Signal(syscall.SIGHUP)
	waitUntil(t, 15*time.Second, "the reload to be applied\n"+m.out.String(), func() bool {
		return strings.Count(m.out.String(), `"monitor ready"`) == 2
	})
	wantKernelTable(t, ns, b, "after a valid reload")
	if m.cmd.ProcessState != nil {
		t.Fatalf("the monitor exited on SIGHUP:\n%s", m.out.String())
	}

	ns.Run(t, "nft", "flush", "ruleset")
	waitUntil(t, 15*time.Second, "the table back after a flush\n"+m.out.String(), func() bool {
		return strings.Count(m.out.String(), `"msg":"knockc's table restored`) == 1
	})
	wantKernelTable(t, ns, b, "restored after the reload")
}
