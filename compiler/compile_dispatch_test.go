package compiler_test

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/internal/testenv/specgen"
	"github.com/knockc/knockc/ruleset"
)

// TestSimDispatch: a packet from a source that is not mid-sequence enters
// no sequence chain unless its port is a sequence's first knock, and then
// only that sequence's; a source mid-sequence is sent through every door,
// so an unrelated SYN still resets it (docs/cost.md).
func TestSimDispatch(t *testing.T) {
	const doors = 20
	spec, err := compiler.Parse("gen.toml", specgen.Doors(doors, specgen.SmallSets))
	if err != nil {
		t.Fatal(err)
	}
	s := newSim(t, compiler.Compile(spec))
	src := netip.MustParseAddr(client)
	seqChains := func() []string {
		var out []string
		for _, c := range s.Chains {
			if c != compiler.InputChain && c != compiler.DoorsChain && c != compiler.StealthChain && !strings.HasPrefix(c, "stealth_port_") {
				out = append(out, c)
			}
		}
		return out
	}

	// Not mid-sequence: an unrelated port enters no sequence nor gate.
	if v := s.send(syn(client, 80)); v != "accept" {
		t.Fatalf("SYN to 80 = %s, want accept", v)
	}
	if got := seqChains(); len(got) != 0 {
		t.Fatalf("SYN to 80 from a source mid-sequence nowhere entered %v, want no sequence or gate chain", got)
	}
	// A protected port: no sequence (the stealth chain has sent the SYN
	// to the answer port, so not even its gate).
	s.Now += 1e9
	s.send(syn(client, specgen.ProtectBase+7))
	for _, c := range seqChains() {
		if c != "d00007_gate" {
			t.Fatalf("SYN to door 7's protected port entered %v, want at most d00007_gate", seqChains())
		}
	}
	// Door 7's first knock: door 7's open sequence only.
	first := uint16(specgen.KnockBase + 3*7)
	s.Now += 1e9
	s.send(syn(client, first))
	if got, want := seqChains(), []string{"d00007_open"}; !slices.Equal(got, want) {
		t.Fatalf("first knock of door 7 entered %v, want %v", got, want)
	}
	step1 := compiler.StepSet("d00007", compiler.Open, 1, ruleset.IPv4)
	if !s.Has(step1, src) || !s.Has(compiler.MidSet(ruleset.IPv4), src) {
		t.Fatalf("after door 7's first knock the source is in %v, want %s and %s", s.Members(src), step1, compiler.MidSet(ruleset.IPv4))
	}

	// Mid-sequence: an unrelated SYN walks every door and resets door 7.
	s.Now += 1e9
	s.send(syn(client, 80))
	got := seqChains()
	if len(got) == 0 || got[0] != compiler.AllDoorsChain {
		t.Fatalf("SYN to 80 from a source mid-sequence entered %v, want %s first", got, compiler.AllDoorsChain)
	}
	for i := range doors {
		for _, c := range []string{fmt.Sprintf("d%05d_open", i), fmt.Sprintf("d%05d_close", i)} {
			if !slices.Contains(got, c) {
				t.Errorf("SYN to 80 from a source mid-sequence did not enter %s", c)
			}
		}
	}
	if s.Has(step1, src) {
		t.Fatalf("SYN to 80 from a source mid-sequence left it in %s: no strict reset", step1)
	}
}
