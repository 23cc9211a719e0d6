package netns

import (
	"testing"

	"github.com/knockc/knockc/internal/testenv"
)

// RequireRoot stops the test unless it runs as root and finds ip and every
// tool named in tools on PATH: it skips the test, or fails it when the
// environment variable CI is "true" (testenv.RequireRoot).
func RequireRoot(t testing.TB, tools ...string) {
	t.Helper()
	testenv.RequireRoot(t, append([]string{"ip"}, tools...)...)
}
