package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// cliMu serialises the CLI runs of parallel tests: urfave/cli v2 keeps its
// help and completion flags in package variables that every app writes
// while it parses its arguments, so two apps parsing at once race. One
// knockc process runs one app; only tests run several.
var cliMu sync.Mutex

// runLocked is run under cliMu.
func runLocked(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cliMu.Lock()
	defer cliMu.Unlock()
	return run(args, stdin, stdout, stderr)
}

// runCLI runs knockc with args and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errw bytes.Buffer
	code = runLocked(append([]string{"knockc"}, args...), strings.NewReader(""), &out, &errw)
	return code, out.String(), errw.String()
}

func writeSpec(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "knock.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCheckValidSpecIsSilent(t *testing.T) {
	path := writeSpec(t, "[door.ssh]\nsequence = [\"7000\", \"8000\"]\nprotect = [\"22/tcp\"]\n")
	code, out, errOut := runCLI(t, "check", path)
	if code != 0 || out != "" || errOut != "" {
		t.Fatalf("check(valid) = %d, stdout %q, stderr %q; want 0 and no output", code, out, errOut)
	}
}

func TestCheckReportsEveryProblemWithPosition(t *testing.T) {
	path := writeSpec(t, `[table]
closed = "deny"

[door.ssh]
sequence = ["7000/tcp", "70000/tcp"]
protect  = ["22/tcp"]
open_fro = "30s"
`)
	code, out, errOut := runCLI(t, "check", path)
	if code != 1 || out != "" {
		t.Fatalf("check(broken) = %d, stdout %q; want 1 and nothing on stdout", code, out)
	}
	for _, want := range []string{
		path + `:2:11: table.closed = "deny": allowed are "reject" (answer like a closed port) and "drop" (silence)`,
		path + `:5:26: door.ssh.sequence[1]: "70000/tcp": port must be a number from 1 to 65535`,
		path + `:7:1: unknown key "open_fro" in [door.ssh] (did you mean "open_for"?)`,
		"knockc: the spec has 3 problems; nothing was changed",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("check stderr lacks %q; got:\n%s", want, errOut)
		}
	}
}

func TestCheckNeedsAFile(t *testing.T) {
	code, _, errOut := runCLI(t, "check")
	if code != 1 || !strings.Contains(errOut, "check needs a spec file") {
		t.Fatalf("check() = %d, %q; want 1 and a hint", code, errOut)
	}
	code, _, errOut = runCLI(t, "check", "/nonexistent/knock.toml")
	if code != 1 || !strings.Contains(errOut, "read spec: open /nonexistent/knock.toml: no such file or directory") {
		t.Fatalf("check(missing file) = %d, %q; want 1 and the file error", code, errOut)
	}
}

func TestRenderDefault(t *testing.T) {
	code, out, errOut := runCLI(t, "render")
	if code != 0 {
		t.Fatalf("render() = %d, stderr %q", code, errOut)
	}
	if !strings.Contains(errOut, "using the built-in default (examples/classic-ssh.toml)") {
		t.Errorf("render() stderr = %q, want a note about the built-in default", errOut)
	}
	for _, want := range []string{"table inet knockc {", "chain ssh_open {", "reject with tcp reset", "kernel memory"} {
		if !strings.Contains(out, want) {
			t.Errorf("render() output lacks %q", want)
		}
	}
}

func TestRenderBrokenSpecFails(t *testing.T) {
	path := writeSpec(t, "[door.ssh]\nsequence = []\n")
	code, out, errOut := runCLI(t, "render", path)
	if code != 1 || out != "" || !strings.Contains(errOut, "door.ssh.sequence has 0 steps") {
		t.Fatalf("render(broken) = %d, stdout %q, stderr %q; want 1, nothing rendered, the problem named", code, out, errOut)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, "--version")
	if code != 0 || !strings.Contains(out, "knockc version") {
		t.Fatalf("--version = %d, %q", code, out)
	}
}
