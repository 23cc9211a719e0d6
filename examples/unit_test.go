package examples

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/knockc/knockc/internal/testenv"
)

// The monitor's systemd unit must be one systemd accepts. The binary path
// is pointed at /bin/true, since knockc is not installed where the unit
// expects it.
func TestMonitorUnitVerifies(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		testenv.Unavailable(t, "systemd-analyze is missing (Debian package systemd)")
	}
	unit, err := FS.ReadFile("knockc-monitor.service")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "knockc-monitor.service")
	text := strings.ReplaceAll(string(unit), "/usr/local/bin/knockc", "/bin/true")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("systemd-analyze", "verify", "--man=no", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify = %v:\n%s", err, out)
	}
	for _, want := range []string{"Type=notify", "User=knockc", "AmbientCapabilities=CAP_NET_ADMIN", "NoNewPrivileges=yes", "ProtectSystem=strict", "CapabilityBoundingSet=CAP_NET_ADMIN"} {
		if !strings.Contains(text, want) {
			t.Errorf("unit lacks %q", want)
		}
	}
}

// The token top-up timer and its service must be units systemd accepts.
func TestApplyTimerVerifies(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		testenv.Unavailable(t, "systemd-analyze is missing (Debian package systemd)")
	}
	dir := t.TempDir()
	var paths []string
	for _, name := range []string{"knockc-apply.service", "knockc-apply.timer"} {
		unit, err := FS.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(unit), "/usr/local/bin/knockc", "/bin/true")
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
	}
	out, err := exec.Command("systemd-analyze", append([]string{"verify", "--man=no"}, paths...)...).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify = %v:\n%s", err, out)
	}
}
