package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run under CI (the environment variable CI
// is "true"), where nothing may be skipped for a missing privilege or tool.
func InCI() bool { return os.Getenv("CI") == "true" }

// Unavailable stops the test because something it needs is missing: it
// skips the test, or fails it under CI=true, with the message format and
// args say.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// RequireRoot stops the test (see Unavailable) unless it runs as root and
// finds every tool named in tools on PATH.
func RequireRoot(t testing.TB, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Unavailable(t, "needs root (euid %d)", os.Geteuid())
		return
	}
	RequireTools(t, tools...)
}

// RequireTools stops the test (see Unavailable) unless every tool named in
// tools is on PATH.
func RequireTools(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			Unavailable(t, "needs %q on PATH: %v", tool, err)
			return
		}
	}
}
