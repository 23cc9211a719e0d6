package testenv

import (
	"os/exec"
	"testing"
)

// GoTool returns the go command for tests that build or list packages:
// the first go on PATH, where go test puts its own GOROOT/bin first. It
// stops the test (see Unavailable) when there is none.
func GoTool(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("go")
	if err != nil {
		Unavailable(t, "needs the go command on PATH: %v", err)
	}
	return p
}
