package compiler_test

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/knockc/knockc/compiler"
)

// door is a valid door section for specs that must pass the limits.
const limitsDoor = "[door.ssh]\nsequence = [\"7000\", \"8000\"]\nprotect = [\"22\"]\n"

// TestLimits: crafted specs are refused with a positioned problem naming
// the limit, and a decoder never sees them (the memory check would catch
// a decode: each of these inputs took gigabytes before the limits).
func TestLimits(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string // in the error
	}{
		{"nested inline tables", "a = " + strings.Repeat("{b = ", 10000) + "1" + strings.Repeat("}", 10000) + "\n", "nests more than 32 deep"},
		{"nested arrays", "a = " + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + "\n", "nests more than 32 deep"},
		{"million-element array", "a = [" + strings.Repeat("1,", 1_000_000) + "1]\n", "more than 10000 elements"},
		{"wide inline table", "a = {" + strings.Repeat("k = 1, ", 20000) + "z = 1}\n", "more than 10000 elements"},
		{"long dotted key", strings.Repeat("a.", 10000) + "b = 1\n", "has a dotted key of more than 64 parts"},
		{"too large", limitsDoor + "# " + strings.Repeat("x", compiler.MaxSpecBytes) + "\n", "larger than 4 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := compiler.Parse("spec", []byte(tt.src))
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Fatalf("Parse(%s) = nil error, want one containing %q", tt.name, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "spec:") {
				t.Errorf("Parse(%s) = %q, want a positioned error containing %q", tt.name, err, tt.want)
			}
			// The input itself is copied once into a string; anything past a
			// few copies means something decoded it.
			if used := after.TotalAlloc - before.TotalAlloc; used > uint64(4*len(tt.src)+1<<20) {
				t.Errorf("Parse(%s) allocated %d bytes for %d of input", tt.name, used, len(tt.src))
			}
		})
	}
}

// TestLimitsNotInStrings: brackets, commas and dots inside strings and
// comments do not count, and specs just under each limit load.
func TestLimitsNotInStrings(t *testing.T) {
	ok := []string{
		"# " + strings.Repeat("[{.,", 5000) + "\n" + limitsDoor,
		limitsDoor + "on_open = [\"/bin/echo\", \"" + strings.Repeat("[{.,", 5000) + "\"]\n",
		limitsDoor + "on_open = [\"/bin/echo\", '''" + strings.Repeat("[\n{.,", 5000) + "''']\n",
		limitsDoor + "on_close = [\"/bin/echo\", \"a\\\"[[[\", 'b\\']\n",
		limitsDoor + "allow_from = [" + strings.Repeat("\"10.0.0.1/32\", ", compiler.MaxArrayElements-1) + "\"10.0.0.2/32\"]\n",
	}
	for i, src := range ok {
		if _, err := compiler.Parse("spec", []byte(src)); err != nil {
			msg := err.Error()
			t.Errorf("Parse(case %d) = %.300s, want nil", i, msg)
		}
	}
}

// TestLoadEndless: Load stops reading an endless file one byte past the
// limit and says so; it does not read /dev/zero to the end.
func TestLoadEndless(t *testing.T) {
	_, err := compiler.Load("/dev/zero")
	if err == nil || !strings.Contains(err.Error(), "/dev/zero:1:1: the spec is larger than 4 MiB") {
		t.Fatalf("Load(/dev/zero) = %v, want the size limit", err)
	}
	big := filepath.Join(t.TempDir(), "big.toml")
	if err := os.WriteFile(big, []byte(limitsDoor+strings.Repeat("#\n", compiler.MaxSpecBytes)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := compiler.Load(big); err == nil || !strings.Contains(err.Error(), "larger than 4 MiB") {
		t.Fatalf("Load(big) = %v, want the size limit", err)
	}
}
