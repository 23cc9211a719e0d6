package ruleset

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func rule(stmts ...Stmt) *Rule { return &Rule{Stmts: stmts} }

// table is a small knockc-like table; change lets a case alter a copy.
func table(change func(*Table)) *Table {
	t := &Table{Name: "knockc",
		Sets: []*Set{
			{Name: "ssh_grant_v4", Family: IPv4, Timeout: 30 * time.Second, Size: 1024},
			{Name: "ssh_open_s1_v4", Family: IPv4, Timeout: 5 * time.Second, Size: 500},
		},
		Chains: []*Chain{
			{Name: "input", Hook: &Hook{Type: "filter", Hook: "input", Priority: -150, Policy: "accept"},
				Rules: []*Rule{rule(Verdict{Kind: "jump", Chain: "ssh_gate"})}},
			{Name: "ssh_gate", Rules: []*Rule{
				rule(DPort{Proto: TCP, Port: 22}, SAddrIn{Family: IPv4, Set: "ssh_grant_v4"}, Verdict{Kind: "return"}),
				rule(DPort{Proto: TCP, Port: 22}, Reject{TCPReset: true}),
			}},
		},
	}
	if change != nil {
		change(t)
	}
	return t
}

func TestDiff(t *testing.T) {
	addr := netip.MustParseAddr("198.18.1.2")
	live := func(t *Table) { t.Sets[1].Elements = []Element{{Addr: addr, Expires: time.Second}} }
	tests := []struct {
		name       string
		want, have *Table
		summary    string
		resets     int
		markers    []string // "+ set x", "~ chain y" …, in order
	}{
		{"same", table(nil), table(nil), "No changes.", 0, nil},
		{"elements are state, not config", table(nil), table(live), "No changes.", 0, nil},
		{"first apply", table(nil), nil, "Plan: 5 to add, 0 to change, 0 to destroy.", 0,
			[]string{"+ table knockc", "+ set ssh_grant_v4", "+ set ssh_open_s1_v4", "+ chain input", "+ chain ssh_gate"}},
		{"down", nil, table(live), "Plan: 0 to add, 0 to change, 5 to destroy.", 1,
			[]string{"- set ssh_grant_v4", "- set ssh_open_s1_v4", "- chain input", "- chain ssh_gate", "- table knockc"}},
		{"changed set is replaced (an add and a destroy) and counts its live entries",
			table(func(t *Table) { t.Sets[1].Timeout = 6 * time.Second }), table(live),
			"Plan: 1 to add, 0 to change, 1 to destroy.", 1, []string{"-/+ set ssh_open_s1_v4"}},
		{"hand-added rule is drift",
			table(nil), table(func(t *Table) { t.Chains[1].Rules = append(t.Chains[1].Rules, rule(Raw{Text: "tcp dport 23 drop"})) }),
			"Plan: 0 to add, 1 to change, 0 to destroy.", 0, []string{"~ chain ssh_gate"}},
		{"base chain priority change", table(func(t *Table) { t.Chains[0].Hook.Priority = -140 }), table(nil),
			"Plan: 0 to add, 1 to change, 0 to destroy.", 0, []string{"~ chain input"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := Diff(tc.want, tc.have)
			if got := p.Summary(); got != tc.summary {
				t.Errorf("Diff().Summary() = %q, want %q", got, tc.summary)
			}
			if got := p.Resets(); got != tc.resets {
				t.Errorf("Diff().Resets() = %d, want %d", got, tc.resets)
			}
			var markers []string
			for _, c := range p.Changes {
				markers = append(markers, c.Action.Marker()+" "+string(c.Kind)+" "+c.Name)
			}
			if diff := cmp.Diff(tc.markers, markers); diff != "" {
				t.Errorf("Diff() changes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPlanString(t *testing.T) {
	addr := netip.MustParseAddr("198.18.1.2")
	have := table(func(t *Table) {
		t.Sets[1].Elements = []Element{{Addr: addr}, {Addr: addr.Next()}}
		t.Chains[1].Rules = append(t.Chains[1].Rules, rule(Raw{Text: "tcp dport 23 drop"}))
	})
	want := table(func(t *Table) { t.Sets[1].Size = 600 })
	got := Diff(want, have).String()
	for _, line := range []string{
		"-/+ set ssh_open_s1_v4 must be replaced (resets 2 live entries)",
		"    - \tsize 500",
		"    + \tsize 600",
		"~ chain ssh_gate",
		"    - \ttcp dport 23 drop",
		"Plan: 1 to add, 1 to change, 1 to destroy.",
	} {
		if !strings.Contains(got, line+"\n") {
			t.Errorf("Plan.String() lacks line %q:\n%s", line, got)
		}
	}
}

func TestLineDiffElides(t *testing.T) {
	before := "head\na\nb\nc\nd\ne\nf\ntail\n"
	after := "head\na\nb\nc\nX\ne\nf\ntail\n"
	want := []string{"  head", "  ...", "  c", "- d", "+ X", "  e", "  ...", "  tail"}
	if diff := cmp.Diff(want, lineDiff(before, after)); diff != "" {
		t.Errorf("lineDiff() (-want +got):\n%s", diff)
	}
}
