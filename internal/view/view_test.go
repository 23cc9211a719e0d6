package view

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/knockc/knockc/ruleset"
)

// table returns a table with one door's grant set of the given timeout,
// holding elems addresses.
func table(timeout time.Duration, elems ...string) *ruleset.Table {
	s := &ruleset.Set{Name: "ssh_grant_v4", Family: ruleset.IPv4, Timeout: timeout, Size: 1024}
	for _, a := range elems {
		s.Elements = append(s.Elements, ruleset.Element{Addr: netip.MustParseAddr(a), Expires: 12345 * time.Millisecond})
	}
	return &ruleset.Table{Name: "knockc", Sets: []*ruleset.Set{s}}
}

func TestPlanShowsARecreatedSetAsAReplacement(t *testing.T) {
	have, want := table(30*time.Second, "198.18.0.1", "198.18.0.2"), table(time.Minute)
	v := NewPlan(ruleset.Diff(want, have), want)
	if len(v.Changes) != 1 || v.Changes[0].Action != Replace || v.Changes[0].Resets != 2 {
		t.Fatalf("NewPlan(grant set timeout changed).Changes = %+v, want one replace resetting 2", v.Changes)
	}
	if v.Add != 1 || v.Destroy != 1 || v.Change != 0 || v.Replace != 1 || v.Resets != 2 {
		t.Errorf("NewPlan counts = add %d change %d destroy %d replace %d resets %d, want 1 0 1 1 2", v.Add, v.Change, v.Destroy, v.Replace, v.Resets)
	}
	ops := strings.Join(v.Operations, "\n")
	if !strings.Contains(ops, "delete set inet knockc ssh_grant_v4\n") || !strings.Contains(ops, "add set inet knockc ssh_grant_v4 {") {
		t.Errorf("NewPlan.Operations = %q, want the set deleted and added again", v.Operations)
	}
	var b bytes.Buffer
	v.WriteText(&b)
	for _, want := range []string{
		"-/+ set ssh_grant_v4 must be replaced (resets 2 live entries)\n",
		"Plan: 1 to add, 0 to change, 1 to destroy.\n",
		"Warning: 2 live entries (knocks in progress or grants) will be reset.\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("Plan.WriteText lacks %q; got:\n%s", want, b.String())
		}
	}
}

func TestPlanJSONHasEveryFieldAndNoNulls(t *testing.T) {
	want := table(30 * time.Second)
	v := NewPlan(ruleset.Diff(want, want), want)
	if !v.Empty() || v.Summary() != "No changes." {
		t.Fatalf("NewPlan(same table) = %+v, want no changes", v)
	}
	var got map[string]any
	var b bytes.Buffer
	if err := WriteJSON(&b, v); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"format_version", "table", "changes", "add", "change", "destroy", "replace", "resets", "operations", "memory", "held_syns", "tokens"} {
		if _, ok := got[k]; !ok {
			t.Errorf("plan JSON lacks %q: %s", k, b.String())
		}
	}
	if got["format_version"] != FormatVersion {
		t.Errorf("plan JSON format_version = %v, want %q", got["format_version"], FormatVersion)
	}
	if c, ok := got["changes"].([]any); !ok || len(c) != 0 {
		t.Errorf("plan JSON changes = %v, want []", got["changes"])
	}
	if got["held_syns"] != nil {
		t.Errorf("plan JSON held_syns = %v, want null without held SYNs", got["held_syns"])
	}

	first := NewPlan(ruleset.Diff(want, nil), want)
	b.Reset()
	WriteJSON(&b, first)
	if n := strings.Count(b.String(), "null"); n != 1 {
		t.Errorf("first plan JSON has %d nulls, want 1 (held_syns):\n%s", n, b.String())
	}
}

func TestApplyDetailedOutcome(t *testing.T) {
	want := table(30 * time.Second)
	for _, tc := range []struct {
		name        string
		have        *ruleset.Table
		applied     bool
		closingLine string
	}{
		{"unchanged", want, false, "No changes. Table inet knockc is up to date.\n"},
		{"first", nil, true, "Apply complete! 2 added, 0 changed, 0 destroyed.\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := NewApply(ruleset.Diff(want, tc.have), want)
			var b bytes.Buffer
			v.WriteText(&b)
			if v.Applied != tc.applied || b.String() != tc.closingLine {
				t.Errorf("NewApply = applied %v, %q; want %v, %q", v.Applied, b.String(), tc.applied, tc.closingLine)
			}
		})
	}
}

func TestStatusJSONDurationsInSeconds(t *testing.T) {
	v := NewStatus(table(30*time.Second, "198.18.0.7"))
	var b bytes.Buffer
	if err := WriteJSON(&b, v); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{`"format_version": "1.1"`, `"tokens": []`, `"knock_interfaces": []`, `"missing_interfaces": []`, `"addr": "198.18.0.7"`, `"left_seconds": 12.345`, `"pending": []`, `"in_progress": []`, `"held_syns": null`,
		`"name": "ssh_grant_v4"`, `"elements": 1`, `"capacity": 1024`} {
		if !strings.Contains(out, want) {
			t.Errorf("status JSON lacks %s; got:\n%s", want, out)
		}
	}
	if strings.Contains(out, "_ns") {
		t.Errorf("status JSON has a nanosecond field:\n%s", out)
	}
	var back Status
	if err := json.Unmarshal(b.Bytes(), &back); err != nil || time.Duration(back.Doors[0].Grants[0].LeftSeconds) != 12345*time.Millisecond {
		t.Errorf("status JSON round trip = %+v, %v; want 12.345s left", back, err)
	}
}

func TestErrorViewCarriesEveryProblem(t *testing.T) {
	v := NewError("the spec has 1 problem; nothing was changed", KindOther, nil)
	if v.Error.Problems == nil || len(v.Error.Problems) != 0 || v.Error.Kind != KindOther {
		t.Errorf("NewError(no cause) = %+v, want kind other and an empty problem list", v)
	}
}
