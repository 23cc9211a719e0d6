//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/knockc/knockc/internal/testenv"
	"github.com/knockc/knockc/internal/testenv/netns"
	"github.com/knockc/knockc/internal/view"
)

// TestKernelCommandWithoutPrivilege: a kernel command run by an ordinary
// user says once, in words, that root or CAP_NET_ADMIN is needed, and so
// does its JSON error.
func TestKernelCommandWithoutPrivilege(t *testing.T) {
	netns.RequireRoot(t, "nft")
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} { // nobody must reach the binary
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := testenv.BuildKnockc(t, dir, "permission-test")
	data, err := os.ReadFile(classicSpec)
	if err != nil {
		t.Fatal(err)
	}
	spec := filepath.Join(dir, "knock.toml") // where nobody can read it, wherever the checkout is
	if err := os.WriteFile(spec, data, 0o644); err != nil {
		t.Fatal(err)
	}
	asNobody := func(args ...string) (int, string, string) {
		cmd := exec.Command(bin, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		var out, errw bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errw
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("run %v as nobody: %v", args, err)
		}
		return code, out.String(), errw.String()
	}
	code, out, errOut := asNobody("status")
	want := "knockc: status needs root or the CAP_NET_ADMIN capability (the kernel refused: operation not permitted); run it with sudo\n"
	if code != 1 || out != "" || errOut != want {
		t.Errorf("status as nobody = %d, %q, %q; want 1, nothing, %q", code, out, errOut, want)
	}
	code, out, _ = asNobody("plan", spec, "--json")
	var v view.Error
	if err := json.Unmarshal([]byte(out), &v); code != 1 || err != nil || v.Error.Kind != view.KindPermission {
		t.Errorf("plan --json as nobody = %d, %q; want 1 and a permission error", code, out)
	}
	// Commands that need no privilege still work.
	if code, _, errOut := asNobody("check", spec); code != 0 {
		t.Errorf("check as nobody = %d, %q; want 0", code, errOut)
	}
}
