package compiler_test

import (
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/examples"
	"github.com/knockc/knockc/internal/testenv"
	"github.com/knockc/knockc/ruleset"
)

// exampleSpecs returns every example spec by file name ("classic-ssh.toml").
func exampleSpecs(t testing.TB) map[string][]byte {
	t.Helper()
	names, err := fs.Glob(examples.FS, "*.toml")
	if err != nil || len(names) == 0 {
		t.Fatalf("fs.Glob(examples.FS, \"*.toml\") = %v, %v; want the example specs", names, err)
	}
	out := map[string][]byte{}
	for _, name := range names {
		data, err := fs.ReadFile(examples.FS, name)
		if err != nil {
			t.Fatalf("fs.ReadFile(examples.FS, %q) = %v", name, err)
		}
		out[name] = data
	}
	return out
}

// compileExample loads, validates and compiles one example spec.
func compileExample(t testing.TB, name string, data []byte) *ruleset.Table {
	t.Helper()
	spec, err := compiler.Parse("examples/"+name, data)
	if err != nil {
		t.Fatalf("Parse(%q) = %v", name, err)
	}
	return compiler.Compile(spec)
}

// TestGolden renders every example and compares it with its golden file,
// testdata/NAME.nft; `go test ./compiler -update` rewrites them. The goldens
// were read against docs/design.md ("The ruleset") when written, and checked by hand to be
// exactly what `nft list table` prints after `nft -f` of them.
func TestGolden(t *testing.T) {
	specs := exampleSpecs(t)
	for name, data := range specs {
		t.Run(strings.TrimSuffix(name, ".toml"), func(t *testing.T) {
			got := ruleset.Render(compileExample(t, name, data))
			path := filepath.Join("testdata", strings.TrimSuffix(name, ".toml")+".nft")
			testenv.Golden(t, path, []byte(got))
		})
	}

	// Every golden file belongs to an example: none is left behind when an
	// example is renamed or removed.
	goldens, err := filepath.Glob(filepath.Join("testdata", "*.nft"))
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range goldens {
		if _, ok := specs[strings.TrimSuffix(filepath.Base(g), ".nft")+".toml"]; !ok {
			t.Errorf("golden %s has no example examples/%s", g, strings.TrimSuffix(filepath.Base(g), ".nft")+".toml")
		}
	}
}

// TestExamplesLoadFromDisk: every example loads with Load from its file, as
// `knockc check examples/NAME.toml` would, and the default is among them.
func TestExamplesLoadFromDisk(t *testing.T) {
	specs := exampleSpecs(t)
	if _, ok := specs[examples.Default]; !ok {
		t.Errorf("examples.Default = %q is not in examples.FS", examples.Default)
	}
	for name := range specs {
		if _, err := compiler.Load(filepath.Join("..", "examples", name)); err != nil {
			t.Errorf("Load(%q) = %v", name, err)
		}
	}
}
