package doorstate

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/ruleset"
)

// Every set name the compiler makes parses back to its door and role;
// names knockc does not make are not taken for its own.
func TestParseSetNameInvertsNames(t *testing.T) {
	for _, f := range []ruleset.Family{ruleset.IPv4, ruleset.IPv6} {
		for _, tc := range []struct {
			name string
			want compiler.SetRole
		}{
			{compiler.GrantSet("ssh_x", f), compiler.SetRole{Door: "ssh_x", Kind: compiler.GrantKind, Family: f}},
			{compiler.PendingSet("web", f), compiler.SetRole{Door: "web", Kind: compiler.PendingKind, Family: f}},
			{compiler.StepSet("ssh", compiler.Close, 2, f), compiler.SetRole{Door: "ssh", Kind: compiler.StepKind, Seq: compiler.Close, Step: 2, Family: f}},
			{compiler.WindowSet("a_b", compiler.Open, f), compiler.SetRole{Door: "a_b", Kind: compiler.WindowKind, Seq: compiler.Open, Family: f}},
		} {
			got, ok := compiler.ParseSetName(tc.name)
			if !ok || got != tc.want {
				t.Errorf("ParseSetName(%q) = %+v, %v; want %+v, true", tc.name, got, ok, tc.want)
			}
		}
	}
	for _, name := range []string{"ssh_grant", "_grant_v4", "ssh_open_s0_v4", "ssh_half_s1_v4", "ssh_open_x_v6", "hosts"} {
		if got, ok := compiler.ParseSetName(name); ok {
			t.Errorf("ParseSetName(%q) = %+v, true; want false", name, got)
		}
	}
}

// Of groups a read-back table's sets by door: grants and pending sorted
// by address, step counts summed over families, open before close.
func TestOfGroupsByDoor(t *testing.T) {
	a, b := netip.MustParseAddr("198.18.1.2"), netip.MustParseAddr("fd00::2")
	el := func(addr netip.Addr, left time.Duration) ruleset.Element {
		return ruleset.Element{Addr: addr, Expires: left}
	}
	tbl := &ruleset.Table{Name: "knockc", Sets: []*ruleset.Set{
		{Name: compiler.GrantSet("ssh", ruleset.IPv6), Size: 10, Elements: []ruleset.Element{el(b, time.Second)}},
		{Name: compiler.GrantSet("ssh", ruleset.IPv4), Size: 10, Elements: []ruleset.Element{el(a, 2*time.Second)}},
		{Name: compiler.StepSet("ssh", compiler.Close, 1, ruleset.IPv4), Size: 5, Elements: []ruleset.Element{el(a, 0)}},
		{Name: compiler.StepSet("ssh", compiler.Open, 1, ruleset.IPv4), Size: 5, Elements: []ruleset.Element{el(a, 0)}},
		{Name: compiler.StepSet("ssh", compiler.Open, 1, ruleset.IPv6), Size: 5, Elements: []ruleset.Element{el(b, 0)}},
		{Name: compiler.PendingSet("web", ruleset.IPv4), Size: 3, Elements: []ruleset.Element{el(a, time.Minute)}},
		{Name: "not_ours", Elements: []ruleset.Element{el(a, 0)}},
	}}
	want := []Door{
		{
			Door:       "ssh",
			InProgress: []StepCount{{Seq: compiler.Open, Step: 1, Sources: 2}, {Seq: compiler.Close, Step: 1, Sources: 1}},
			Grants:     []Grant{{Addr: "198.18.1.2", Left: 2 * time.Second}, {Addr: "fd00::2", Left: time.Second}},
			Sets:       map[string]int{"ssh_grant_v4": 1, "ssh_grant_v6": 1, "ssh_open_s1_v4": 1, "ssh_open_s1_v6": 1, "ssh_close_s1_v4": 1},
			Capacity:   map[string]int64{"ssh_grant_v4": 10, "ssh_grant_v6": 10, "ssh_open_s1_v4": 5, "ssh_open_s1_v6": 5, "ssh_close_s1_v4": 5},
		},
		{
			Door:     "web",
			Pending:  []Grant{{Addr: "198.18.1.2", Left: time.Minute}},
			Sets:     map[string]int{"web_pending_v4": 1},
			Capacity: map[string]int64{"web_pending_v4": 3},
		},
	}
	if diff := cmp.Diff(want, Of(tbl)); diff != "" {
		t.Errorf("Of() mismatch (-want +got):\n%s", diff)
	}
}
