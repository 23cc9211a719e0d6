package nftkernel

import (
	"testing"
	"time"

	"github.com/knockc/knockc/ruleset"
)

// The mark's text round-trips, fits rule userdata, and anything else is
// not a mark.
func TestOwnerRoundTrip(t *testing.T) {
	o := Owner{Spec: "sha256:3f1c0000000000000000000000000000000000000000000000000000000000ab", Applied: time.Date(2026, 12, 1, 9, 41, 9, 123456789, time.UTC)}
	text := o.String()
	if len(text) > maxUserDataText {
		t.Fatalf("Owner.String() is %d bytes, more than rule userdata holds (%d)", len(text), maxUserDataText)
	}
	got, ok := parseOwner(text)
	if !ok || got.Spec != o.Spec || !got.Applied.Equal(o.Applied) {
		t.Fatalf("parseOwner(%q) = %+v, %v; want %+v", text, got, ok, o)
	}
	for _, bad := range []string{"", "door=ssh role=grant", "knockc owner applied=2026-12-01T09:41:09Z", "knockc owner spec=x applied=yesterday"} {
		if got, ok := parseOwner(bad); ok {
			t.Errorf("parseOwner(%q) = %+v, true; want not a mark", bad, got)
		}
	}
}

// SpecHash names the ruleset, not its live state: set elements do not
// change it, a rule does.
func TestSpecHashIgnoresElements(t *testing.T) {
	tbl := &ruleset.Table{Name: "knockc", Sets: []*ruleset.Set{{Name: "g", Family: ruleset.IPv4, Timeout: time.Second}}}
	before := SpecHash(tbl)
	tbl.Sets[0].Elements = []ruleset.Element{{}}
	if SpecHash(tbl) != before {
		t.Fatal("SpecHash changed with a set element")
	}
	if len(tbl.Sets[0].Elements) != 1 {
		t.Fatal("SpecHash changed its argument")
	}
	tbl.Chains = []*ruleset.Chain{{Name: "x"}}
	if SpecHash(tbl) == before {
		t.Fatal("SpecHash did not change with a new chain")
	}
}

// attrString finds a string attribute and survives malformed input.
func TestAttrString(t *testing.T) {
	// NFTA_TABLE_NAME "knockc" after a flags attribute.
	b := []byte{8, 0, 2, 0, 0, 0, 0, 1, 11, 0, 1, 0, 'k', 'n', 'o', 'c', 'k', 'c', 0, 0}
	if got := attrString(b, 1); got != "knockc" {
		t.Fatalf("attrString = %q, want knockc", got)
	}
	for _, bad := range [][]byte{nil, {1}, {2, 0, 1, 0}, {255, 0, 1, 0, 'x'}} {
		if got := attrString(bad, 1); got != "" {
			t.Errorf("attrString(%v) = %q, want empty", bad, got)
		}
	}
}
