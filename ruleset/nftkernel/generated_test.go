//go:build linux

package nftkernel

import (
	"flag"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/internal/testenv/netns"
	"github.com/knockc/knockc/internal/testenv/specrand"
)

// The generative tests draw specs from specrand with a seed that a failure
// prints; -specrand.seed or KNOCKC_SPEC_SEED replays one, -specrand.n or
// KNOCKC_SPEC_N sets how many random specs the kernel test tries.
var (
	specSeed = flag.Uint64("specrand.seed", 0, "seed of the generated-spec tests (0: KNOCKC_SPEC_SEED, else the clock)")
	specN    = flag.Int("specrand.n", 0, "random specs the kernel test tries (0: KNOCKC_SPEC_N, else 100)")
)

// seedOf returns the seed to use and logs how to replay it.
func seedOf(t *testing.T) uint64 {
	t.Helper()
	seed := *specSeed
	if seed == 0 {
		if v, err := strconv.ParseUint(os.Getenv("KNOCKC_SPEC_SEED"), 10, 64); err == nil {
			seed = v
		}
	}
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("replay with KNOCKC_SPEC_SEED=%d (or -specrand.seed=%d)", seed, seed)
		}
	})
	return seed
}

func countOf(def int) int {
	if *specN > 0 {
		return *specN
	}
	if n, err := strconv.Atoi(os.Getenv("KNOCKC_SPEC_N")); err == nil && n > 0 {
		return n
	}
	return def
}

// generated returns every specrand.Walk case, then n random ones from seed.
func generated(seed uint64, n int) []specrand.Case {
	cases := specrand.Walk()
	r := rand.New(rand.NewPCG(seed, seed>>32|1))
	for range n {
		cases = append(cases, specrand.Random(r))
	}
	return cases
}

// maxFixedMemory bounds the kernel memory a generated table may take
// before any element; specrand keeps its sets small (see its doc).
const maxFixedMemory = 64 << 20

// For every generated spec check accepts, every rule converts to the
// expressions nft would send and parses back to itself. Pure: no kernel.
func TestGeneratedSpecsConvert(t *testing.T) {
	seed := seedOf(t)
	walk := len(specrand.Walk())
	accepted := 0
	cases := generated(seed, 1000)
	for i, c := range cases {
		spec, err := compiler.Parse("gen.toml", []byte(c.TOML))
		if err != nil {
			if i < walk {
				t.Errorf("%s: check refused a documented value: %v\n%s", c.Name, err, c.TOML)
			}
			continue
		}
		accepted++
		tbl := compiler.Compile(spec)
		if m := tbl.FixedMemory(); m > maxFixedMemory {
			t.Errorf("%s: generated table takes %d bytes of set buckets, above the %d the generator promises\n%s", c.Name, m, maxFixedMemory, c.TOML)
		}
		for _, ch := range tbl.Chains {
			for _, r := range ch.Rules {
				exprs, err := RuleExprs(r)
				if err != nil {
					t.Errorf("%s: check accepts the spec, but RuleExprs(%q) = %v\n%s", c.Name, r, err, c.TOML)
					continue
				}
				if got := ParseRule(exprs, RuleUserData(r.Comment)); !cmp.Equal(r, got, modelCmp) {
					t.Errorf("%s: ParseRule(RuleExprs(%q)) = %q\n%s", c.Name, r, got, c.TOML)
				}
			}
		}
		if t.Failed() {
			return
		}
	}
	t.Logf("generated specs: %d tried (%d documented values, %d random, seed %d), %d accepted by check", len(cases), walk, len(cases)-walk, seed, accepted)
	if accepted < len(cases)*3/4 {
		t.Errorf("check accepted %d of %d generated specs: the generator walks too little of the valid space", accepted, len(cases))
	}
}

// For every generated spec check accepts: render loads with nft -c -f,
// apply succeeds in a throwaway namespace, nft list table prints the
// render, the table read back equals the model, a second apply sends
// nothing, and the render loaded by nft reads back as the model too
// (checkAgainstNft).
func TestIntegrationGeneratedSpecs(t *testing.T) {
	t.Parallel()
	netns.RequireRoot(t, "ip", "nft")
	seed := seedOf(t)
	ns := netns.New(t, "kcg")
	conn, err := Open(ns.Path())
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	defer conn.Close()
	dir := t.TempDir()
	cases := generated(seed, countOf(100))
	applied, failed := 0, 0
	start := time.Now()
	for _, c := range cases {
		spec, err := compiler.Parse("gen.toml", []byte(c.TOML))
		if err != nil {
			continue
		}
		applied++
		if err := checkAgainstNft(ns, conn, compiler.Compile(spec), dir); err != nil {
			t.Errorf("%s: %v\nspec:\n%s", c.Name, err, c.TOML)
			if failed++; failed >= 5 {
				break
			}
		}
	}
	t.Logf("generated specs: %d tried (seed %d), %d accepted by check and checked in the kernel, %d failed, in %v", len(cases), seed, applied, failed, time.Since(start).Round(time.Millisecond))
}
