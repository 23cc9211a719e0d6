package compiler_test

import (
	"fmt"
	"testing"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/internal/testenv/specgen"
	"github.com/knockc/knockc/ruleset"
)

// benchDoors are the door counts every benchmark runs at; the targets of
// docs/design.md want cost linear in doors.
var benchDoors = []int{1, 10, 100, 1000}

// countRules returns how many rules t holds in all its chains.
func countRules(t *ruleset.Table) int {
	n := 0
	for _, c := range t.Chains {
		n += len(c.Rules)
	}
	return n
}

// BenchmarkCompile measures what `knockc check` and the first half of
// `knockc plan` cost: Parse (TOML decoding and validation) plus Compile of
// a generated spec of N doors.
func BenchmarkCompile(b *testing.B) {
	for _, n := range benchDoors {
		b.Run(fmt.Sprintf("doors=%d", n), func(b *testing.B) {
			data := specgen.Doors(n, specgen.SmallSets)
			var t *ruleset.Table
			for b.Loop() {
				spec, err := compiler.Parse("gen.toml", data)
				if err != nil {
					b.Fatalf("Parse(Doors(%d, SmallSets)) = %v", n, err)
				}
				t = compiler.Compile(spec)
			}
			b.ReportMetric(float64(countRules(t)), "rules/op")
			b.ReportMetric(float64(len(t.Sets)), "sets/op")
		})
	}
}

// BenchmarkParse measures Parse alone, so that BenchmarkCompile minus it
// is the cost of Compile.
func BenchmarkParse(b *testing.B) {
	for _, n := range benchDoors {
		b.Run(fmt.Sprintf("doors=%d", n), func(b *testing.B) {
			data := specgen.Doors(n, specgen.SmallSets)
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := compiler.Parse("gen.toml", data); err != nil {
					b.Fatalf("Parse(Doors(%d, SmallSets)) = %v", n, err)
				}
			}
		})
	}
}

// BenchmarkRender measures ruleset.Render of a compiled table of N doors:
// what `knockc render` prints and `nft -f` loads. The throughput is of
// the rendered text.
func BenchmarkRender(b *testing.B) {
	for _, n := range benchDoors {
		b.Run(fmt.Sprintf("doors=%d", n), func(b *testing.B) {
			spec, err := compiler.Parse("gen.toml", specgen.Doors(n, specgen.SmallSets))
			if err != nil {
				b.Fatalf("Parse(Doors(%d, SmallSets)) = %v", n, err)
			}
			t := compiler.Compile(spec)
			b.SetBytes(int64(len(ruleset.Render(t))))
			for b.Loop() {
				ruleset.Render(t)
			}
			b.ReportMetric(float64(countRules(t)), "rules/op")
		})
	}
}
