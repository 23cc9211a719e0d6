//go:build linux

package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/knockc/knockc/internal/view"
)

func TestKernelApplyDetailedExitcodeAndStdin(t *testing.T) {
	ns := newKernelNS(t)
	data, err := os.ReadFile(classicSpec)
	if err != nil {
		t.Fatal(err)
	}
	// Flags after the argument, spec on stdin.
	for i, want := range []int{2, 0} {
		code, out, errOut := runStdin(t, string(data), "apply", "-", "--detailed-exitcode", "--netns", ns.Path(), "--json")
		var v view.Apply
		if err := json.Unmarshal([]byte(out), &v); code != want || err != nil || v.Applied != (want == 2) || v.FormatVersion != view.FormatVersion {
			t.Errorf("apply %d: apply - --detailed-exitcode --json = %d, %+v, %v (stderr %q); want %d, applied %v", i+1, code, v, err, errOut, want, want == 2)
		}
	}
}

func TestKernelPlanShowsReplacementOfALiveSet(t *testing.T) {
	ns := newKernelNS(t)
	applyClassic(t, ns)
	ns.Run(t, "nft", "add", "element", "inet", "knockc", "ssh_grant_v4", "{ 198.18.9.9 timeout 30s }")
	data, err := os.ReadFile(classicSpec)
	if err != nil {
		t.Fatal(err)
	}
	longer := strings.Replace(string(data), `open_for = "30s"`, `open_for = "45s"`, 1)
	if longer == string(data) {
		t.Fatalf("%s has no open_for = \"30s\" to change", classicSpec)
	}
	code, out, errOut := runStdin(t, longer, "plan", "--detailed-exitcode", "--netns", ns.Path(), "-")
	if code != 2 {
		t.Fatalf("plan(open_for changed) = %d, stderr %q; want 2", code, errOut)
	}
	mustContain(t, "plan(open_for changed)", out,
		"-/+ set ssh_grant_v4 must be replaced (resets 1 live entry)\n",
		"-/+ set ssh_grant_v6 must be replaced (resets 0 live entries)\n",
		"Plan: 2 to add, 0 to change, 2 to destroy.\n",
		"Warning: 1 live entry (knocks in progress or grants) will be reset.\n")

	_, out, _ = runStdin(t, longer, "plan", "--json", "--netns", ns.Path(), "-")
	var v view.Plan
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.Replace != 2 || v.Resets != 1 || len(v.Changes) != 2 || v.Changes[0].Action != view.Replace {
		t.Errorf("plan --json(open_for changed) = %+v, %v; want two replacements (v4, v6) resetting 1", v, err)
	}
}

func TestKernelJSONErrorOfAKernelFailure(t *testing.T) {
	newKernelNS(t) // root, as the other kernel tests
	code, out, _ := runStdin(t, "", "status", "--json", "--netns", "/nonexistent/netns")
	var v view.Error
	if err := json.Unmarshal([]byte(out), &v); code != 1 || err != nil || !strings.Contains(v.Error.Message, "/nonexistent/netns") || len(v.Error.Problems) != 0 {
		t.Errorf("status --json --netns /nonexistent = %d, %+v, %v; want 1 and the error as JSON", code, v, err)
	}
}

func TestKernelStreamErrorIsOneLine(t *testing.T) {
	newKernelNS(t)
	code, out, _ := runStdin(t, "", "watch", "--json", "--netns", "/nonexistent/netns")
	var v view.Error
	if err := json.Unmarshal([]byte(out), &v); code != 1 || err != nil || strings.Count(out, "\n") != 1 {
		t.Errorf("watch --json error = %d, %q; want 1 and one line of JSON", code, out)
	}
}
