package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/knockc/knockc/internal/view"
)

// runStdin runs knockc with args and stdin.
func runStdin(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errw bytes.Buffer
	code = run(append([]string{"knockc"}, args...), strings.NewReader(stdin), &out, &errw)
	return code, out.String(), errw.String()
}

const brokenSpec = `[door.x]
sequence = ["7000"]
protect  = ["22/tcp"]
open_for = "3 s"
bogus    = 1
`

func TestCheckReadsStdin(t *testing.T) {
	data, err := os.ReadFile("../../examples/classic-ssh.toml")
	if err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runStdin(t, string(data), "check", "-"); code != 0 || out != "" || errOut != "" {
		t.Errorf("check - <classic-ssh.toml = %d, %q, %q; want 0 and silence", code, out, errOut)
	}
	code, _, errOut := runStdin(t, brokenSpec, "check", "-")
	if code != 1 || !strings.Contains(errOut, `<stdin>:4:13: door.x.open_for: "3 s" is not a duration`) {
		t.Errorf("check - <broken = %d, stderr %q; want 1 and the problem at <stdin>:4:13", code, errOut)
	}
}

func TestJSONErrorOnStdout(t *testing.T) {
	// Flags after the argument, as automation writes them.
	code, out, _ := runStdin(t, brokenSpec, "check", "-", "--json")
	if code != 1 {
		t.Fatalf("check - --json <broken = %d, want 1", code)
	}
	var v view.Error
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("check --json stdout is not JSON: %v\n%s", err, out)
	}
	want := []view.Problem{
		{File: "<stdin>", Line: 4, Column: 13, Message: `door.x.open_for: "3 s" is not a duration (write e.g. "5s", "1m30s")`},
		{File: "<stdin>", Line: 5, Column: 1},
	}
	if v.FormatVersion != view.FormatVersion || v.Error.Kind != view.KindSpec || len(v.Error.Problems) != len(want) ||
		v.Error.Message != "the spec has 2 problems; nothing was changed" {
		t.Fatalf("check --json error = %+v, want format %s, kind spec, 2 problems", v, view.FormatVersion)
	}
	for i, p := range v.Error.Problems {
		if p.File != want[i].File || p.Line != want[i].Line || p.Column != want[i].Column || (want[i].Message != "" && p.Message != want[i].Message) {
			t.Errorf("problem %d = %+v, want %+v", i, p, want[i])
		}
	}

	code, out, _ = runStdin(t, "", "check", "--json", "/nonexistent/knock.toml")
	if err := json.Unmarshal([]byte(out), &v); code != 1 || err != nil || !strings.Contains(v.Error.Message, "no such file") || v.Error.Kind != view.KindOther {
		t.Errorf("check --json missing file = %d, %+v, %v; want 1 and the file error as JSON", code, v, err)
	}
}

func TestCheckJSONOfAValidSpec(t *testing.T) {
	code, out, _ := runStdin(t, "", "check", "../../examples/two-doors.toml", "--json")
	var v view.Check
	if err := json.Unmarshal([]byte(out), &v); code != 0 || err != nil || !v.Valid || len(v.Doors) != 2 || v.FormatVersion != view.FormatVersion {
		t.Errorf("check --json two-doors = %d, %+v, %v; want 0, valid, 2 doors", code, v, err)
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"help", "apply"}, {"apply", "--help"}, {"--help"}} {
		code, out, errOut := runStdin(t, "", args...)
		if code != 0 || !strings.Contains(out, "USAGE:") {
			t.Errorf("knockc %s = %d, stdout %q, stderr %q; want 0 and usage", strings.Join(args, " "), code, out, errOut)
		}
	}
	_, out, _ := runStdin(t, "", "help", "apply")
	if !strings.Contains(out, "--detailed-exitcode") {
		t.Errorf("knockc help apply lacks --detailed-exitcode:\n%s", out)
	}
}

func TestUnknownCommandSuggests(t *testing.T) {
	code, out, errOut := runStdin(t, "", "plna", "knock.toml")
	want := `knockc: unknown command "plna". Did you mean "plan"? (knockc help lists the commands)` + "\n"
	if code != 1 || out != "" || errOut != want {
		t.Errorf("knockc plna = %d, %q, %q; want 1, nothing, %q", code, out, errOut, want)
	}
}

func TestFlagsAfterArguments(t *testing.T) {
	code, out, errOut := runStdin(t, "", "render", "../../examples/classic-ssh.toml", "--help")
	if code != 0 || !strings.Contains(out, "USAGE:") {
		t.Errorf("render FILE --help = %d, %q, %q; want the help", code, out, errOut)
	}
	code, _, errOut = runStdin(t, "", "check", "a.toml", "b.toml")
	if code != 1 || !strings.Contains(errOut, `check takes one spec file, got 2 arguments ("b.toml"…); flags may come before or after it`) {
		t.Errorf("check a b = %d, %q; want 1 and a clear message", code, errOut)
	}
	// A value-taking flag after the argument keeps its value.
	code, out, errOut = runStdin(t, "", "status", "--table", "x", "--netns", "/nonexistent/ns")
	code2, out2, errOut2 := runStdin(t, "", "status", "--netns", "/nonexistent/ns", "--table", "x")
	if code != code2 || out != out2 || errOut != errOut2 || !strings.Contains(errOut, "/nonexistent/ns") {
		t.Errorf("status flags in two orders differ: %d %q %q vs %d %q %q", code, out, errOut, code2, out2, errOut2)
	}
}

// urfave/cli reads the word to complete from os.Args, so in process the
// test can only check that the command line gets through to it.
func TestUrfaveCompletionProtocolPassesThrough(t *testing.T) {
	code, _, errOut := runStdin(t, "", "plan", "--d", "--generate-bash-completion")
	if code != 0 || errOut != "" {
		t.Errorf("plan --d --generate-bash-completion = %d, stderr %q; want 0 and no flag error", code, errOut)
	}
}
