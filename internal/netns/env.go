package netns

import (
	"os"
	"os/exec"
	"testing"
)

// RequireRoot stops the test unless it runs as root and finds ip and every
// tool named in tools on PATH: it skips the test, or fails it when the
// environment variable CI is "true".
func RequireRoot(t testing.TB, tools ...string) {
	t.Helper()
	stop := t.Skipf
	if os.Getenv("CI") == "true" {
		stop = t.Fatalf
	}
	if os.Geteuid() != 0 {
		stop("netns: needs root to create network namespaces (euid %d)", os.Geteuid())
		return
	}
	for _, tool := range append([]string{"ip"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			stop("netns: needs %q on PATH: %v", tool, err)
			return
		}
	}
}
