package compiler_test

import (
	"testing"

	"github.com/knockc/knockc/compiler"
)

func TestTokenLogPrefix(t *testing.T) {
	p := compiler.TokenLogPrefix("ssh", "alice")
	if p != "knockc open ssh alice" {
		t.Fatalf("TokenLogPrefix(ssh, alice) = %q", p)
	}
	if door, key, ok := compiler.ParseTokenLogPrefix(p); !ok || door != "ssh" || key != "alice" {
		t.Errorf("ParseTokenLogPrefix(%q) = %q, %q, %v; want ssh, alice", p, door, key, ok)
	}
	for _, bad := range []string{"knockc open ssh", "knockc close ssh alice", "knockc open ssh Alice", "knockc open ssh alice x", "other open ssh alice"} {
		if _, _, ok := compiler.ParseTokenLogPrefix(bad); ok {
			t.Errorf("ParseTokenLogPrefix(%q) accepted it", bad)
		}
	}
	// A sequence door's prefix is not a token's, and the other way round.
	if _, _, ok := compiler.ParseLogPrefix(p); ok {
		t.Errorf("ParseLogPrefix(%q) took a token open for a sequence's", p)
	}
}
