//go:build linux

package monitor_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/knockc/knockc/internal/testenv/netns"
)

// A granted knocker repeating its sequence as fast as it can for 5 s
// starts on_open once, and the hook sees PATH and KNOCKC_* only, not the
// monitor's environment (a secret, NOTIFY_SOCKET).
func TestIntegrationHookOncePerGrantCleanEnv(t *testing.T) {
	t.Parallel()
	netns.RequireRoot(t, "ip", "nft")
	pair := netns.NewPair(t)
	dir := t.TempDir()
	runs, envs := filepath.Join(dir, "runs"), filepath.Join(dir, "env")
	spec := guardSpec(`"22/tcp"`) + `on_open = ["/bin/sh", "-c", "echo $$ >> ` + runs + `; env > ` + envs + `; sleep 0.2"]` + "\n"
	path := filepath.Join(dir, "knock.toml")
	writeFile(t, path, spec)
	m := startBinMonitor(t, pair.Server, path, []string{"KNOCKC_TEST_SECRET_PARENT=1", "DB_PASSWORD=hunter2", "NOTIFY_SOCKET=/nonexistent"}, "--apply")

	c := pair.Primary
	sequences := 0
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); sequences++ {
		for _, p := range []uint16{7000, 8000, 9000} {
			if err := c.KnockTCP(c.ServerV4, p); err != nil {
				t.Fatalf("knock %d: %v", p, err)
			}
		}
	}
	time.Sleep(500 * time.Millisecond) // let a late hook start
	data, _ := os.ReadFile(runs)
	started := strings.Count(string(data), "\n")
	t.Logf("%d sequences in 5 s from one granted knocker: %d hook(s) started", sequences, started)
	if started != 1 {
		t.Fatalf("on_open started %d times for one grant, want 1\nmonitor log:\n%s", started, m.out.String())
	}
	env, _ := os.ReadFile(envs)
	for _, line := range strings.Split(strings.TrimSpace(string(env)), "\n") {
		k, _, _ := strings.Cut(line, "=")
		switch {
		case k == "PATH", k == "PWD", k == "SHLVL", k == "_": // PWD, SHLVL and _ are sh's own
		case strings.HasPrefix(k, "KNOCKC_") && k != "KNOCKC_TEST_SECRET_PARENT":
		default:
			t.Errorf("hook environment has %q, want PATH and knockc's KNOCKC_* only", line)
		}
	}
	if !strings.Contains(string(env), "KNOCKC_ADDR="+c.V4.String()) {
		t.Errorf("hook environment lacks KNOCKC_ADDR=%s:\n%s", c.V4, env)
	}
}
