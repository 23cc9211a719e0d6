//go:build linux

package hostnet

import (
	"slices"
	"testing"
)

// TestInterfacesOwnNamespace: the caller's namespace always has lo.
func TestInterfacesOwnNamespace(t *testing.T) {
	names, err := Interfaces("")
	if err != nil {
		t.Fatalf("Interfaces(\"\") = %v", err)
	}
	if !slices.Contains(names, "lo") {
		t.Errorf("Interfaces(\"\") = %q, want lo among them", names)
	}
}
