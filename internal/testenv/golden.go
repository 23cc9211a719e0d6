package testenv

import (
	"flag"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// update is the one -update flag of every test binary that links testenv.
var update = flag.Bool("update", false, "rewrite golden and generated files instead of comparing with them")

// Updating reports whether the tests run with -update, for a test that
// writes a generated file of its own kind.
func Updating() bool { return *update }

// Golden compares got with the golden file at path, or rewrites the file
// when the tests run with -update. It fails the test when the file cannot
// be read or written, or differs from got (the message shows the
// difference and how to accept it).
func Golden(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatalf("golden: %v", err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden: %v (run the test with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-golden +got); run the test with -update if the change is right:\n%s", path, diff)
	}
}
