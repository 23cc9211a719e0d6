//go:build linux

// Package dist_test builds knockc's .deb with build-deb.sh and installs,
// upgrades and removes it in a throwaway root (dpkg --root), never in the
// host's own dpkg database.
package dist_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/knockc/knockc/internal/testenv"
)

// build runs build-deb.sh for version and returns the package's path.
func build(t *testing.T, out, version string) string {
	t.Helper()
	cmd := exec.Command("./build-deb.sh", "-o", out, version)
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("build-deb.sh %s: %v\n%s", version, err, stderrOf(err))
	}
	deb := strings.TrimSpace(string(b))
	if _, err := os.Stat(deb); err != nil {
		t.Fatalf("build-deb.sh printed %q: %v", deb, err)
	}
	return deb
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

// dpkg runs dpkg on the throwaway root. Maintainer scripts run outside a
// chroot (the root has no shell) with DPKG_ROOT set, which they honour by
// leaving systemd alone.
func dpkg(t *testing.T, root string, args ...string) string {
	t.Helper()
	out, err := exec.Command("dpkg", append([]string{"--root=" + root, "--force-script-chrootless", "--log=/dev/null"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// run runs a program and returns its stdout, failing the test on error.
func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderrOf(err))
	}
	return string(out)
}

// files lists the files and links under root, outside dpkg's database.
func files(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if strings.HasPrefix(rel, "var/lib/dpkg") {
			return filepath.SkipDir
		}
		if !info.IsDir() {
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func TestDebInstallUpgradeRemove(t *testing.T) {
	testenv.RequireRoot(t, "dpkg", "dpkg-deb", "man", "go", "gzip", "systemd-sysusers")
	hostStatus, err := os.ReadFile("/var/lib/dpkg/status")
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	v1, v2 := build(t, out, "1.2.3"), build(t, out, "1.2.4~rc1")

	root := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), nil, 0o644); err != nil {
		t.Fatal(err)
	}

	dpkg(t, root, "-i", v1)
	bin := filepath.Join(root, "usr/bin/knockc")
	if got := run(t, nil, bin, "--version"); got != "knockc version 1.2.3\n" {
		t.Errorf("knockc --version after installing 1.2.3 = %q", got)
	}
	manpath := []string{"MANPAGER=cat", "MANWIDTH=80"}
	if got := strings.TrimSpace(run(t, manpath, "man", "--manpath="+filepath.Join(root, "usr/share/man"), "-w", "knockc")); got != filepath.Join(root, "usr/share/man/man1/knockc.1.gz") {
		t.Errorf("man -w knockc = %q, want the packaged page", got)
	}
	page := run(t, manpath, "man", "--manpath="+filepath.Join(root, "usr/share/man"), "knockc")
	for _, want := range []string{"knockc - port knocking done by the kernel", "--detailed-exitcode", "FILES"} {
		if !strings.Contains(page, want) {
			t.Errorf("man knockc lacks %q", want)
		}
	}
	unit, err := os.ReadFile(filepath.Join(root, "lib/systemd/system/knockc-monitor.service"))
	if err != nil || !strings.Contains(string(unit), "ExecStart=/usr/bin/knockc monitor") || !strings.Contains(string(unit), "Documentation=man:knockc(1)") ||
		!strings.Contains(string(unit), "User=knockc") {
		t.Errorf("packaged unit = %v, want ExecStart=/usr/bin/knockc, man:knockc(1), User=knockc:\n%s", err, unit)
	}
	// The user the unit runs as is the one sysusers.d makes.
	if sys, err := os.ReadFile(filepath.Join(root, "usr/lib/sysusers.d/knockc.conf")); err != nil || !strings.Contains(string(sys), "\nu knockc ") {
		t.Errorf("sysusers.d/knockc.conf = %v, %q; want user knockc", err, sys)
	}
	// systemd-sysusers (what postinst runs on a real host) accepts it;
	// --dry-run against the throwaway root writes nothing.
	if out, err := exec.Command("systemd-sysusers", "--root="+root, "--dry-run", "knockc.conf").CombinedOutput(); err != nil ||
		!strings.Contains(string(out), "Creating user 'knockc'") {
		t.Errorf("systemd-sysusers --dry-run knockc.conf = %v:\n%s", err, out)
	}
	installed := files(t, root)
	for _, want := range []string{"usr/share/bash-completion/completions/knockc", "usr/share/doc/knockc/copyright", "usr/share/doc/knockc/examples/classic-ssh.toml",
		"usr/share/doc/knockc/examples/10-knockc-monitor.rules", "lib/systemd/system/knockc-apply.service", "lib/systemd/system/knockc-apply.timer", "usr/lib/sysusers.d/knockc.conf"} {
		if i := sort.SearchStrings(installed, want); i == len(installed) || installed[i] != want {
			t.Errorf("package lacks %s; installed %q", want, installed)
		}
	}

	dpkg(t, root, "-i", v2)
	if got := run(t, nil, bin, "--version"); got != "knockc version 1.2.4~rc1\n" {
		t.Errorf("knockc --version after the upgrade = %q", got)
	}
	if got := run(t, nil, "dpkg-query", "--admindir="+filepath.Join(root, "var/lib/dpkg"), "-W", "-f=${Version} ${Status}", "knockc"); got != "1.2.4~rc1 install ok installed" {
		t.Errorf("dpkg-query after the upgrade = %q", got)
	}

	dpkg(t, root, "--purge", "knockc")
	if left := files(t, root); len(left) != 0 {
		t.Errorf("files left after dpkg --purge knockc: %q", left)
	}
	if after, err := os.ReadFile("/var/lib/dpkg/status"); err != nil || string(after) != string(hostStatus) {
		t.Errorf("the host's dpkg database changed (%v)", err)
	}
	t.Logf("installed %d files from %s, upgraded to %s, purged with nothing left", len(installed), filepath.Base(v1), filepath.Base(v2))
}
