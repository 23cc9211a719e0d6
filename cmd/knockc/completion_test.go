//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// complete runs the shipped bash completion for the words of a command
// line (the last one is being completed) in dir and returns COMPREPLY.
// A fake knockc first in PATH records any call: completion must not run
// knockc at all.
func complete(t *testing.T, dir string, words ...string) []string {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatalf("bash: %v", err)
	}
	script, err := filepath.Abs("../../dist/knockc.bash-completion")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	marker := filepath.Join(bin, "ran")
	if err := os.WriteFile(filepath.Join(bin, "knockc"), []byte("#!/bin/sh\ntouch "+marker+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = "'" + w + "'"
	}
	prog := "source " + script + "\nCOMP_WORDS=(" + strings.Join(quoted, " ") + ")\nCOMP_CWORD=" +
		itoa(len(words)-1) + "\n_knockc\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n"
	cmd := exec.Command(bash, "--norc", "-c", prog)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash completion of %q: %v\n%s", words, err, out)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Errorf("completing %q ran knockc", words)
	}
	return strings.Fields(string(out))
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestBashCompletion(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"knock.toml", "other.txt"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		words []string
		want  string
	}{
		{[]string{"knockc", "pl"}, "plan"},
		{[]string{"knockc", "help", "ap"}, "apply"},
		{[]string{"knockc", "plan", "--d"}, "--detailed-exitcode"},
		{[]string{"knockc", "demo", "--"}, "--help"},
		{[]string{"knockc", "apply", ""}, "knock.toml"},
		{[]string{"knockc", "monitor", "--log-format", "j"}, "json journal"},
		{[]string{"knockc", "plan", "knock.toml", "--j"}, "--json"},
	} {
		got := complete(t, dir, tc.words...)
		if strings.Join(got, " ") != tc.want {
			t.Errorf("complete %q = %q, want [%s]", tc.words, got, tc.want)
		}
	}
	if got := complete(t, dir, "knockc", "check", ""); strings.Contains(strings.Join(got, " "), "other.txt") {
		t.Errorf("complete check FILE = %q, want only spec files", got)
	}
}
