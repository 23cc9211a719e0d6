package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// The client half of knockc (check, render, knock, import) runs off Linux
// too, e.g. knocking from a macOS laptop or as ssh's ProxyCommand there.
func TestBuildsForMacOSAndBSD(t *testing.T) {
	if testing.Short() {
		t.Skip("cross builds take a while")
	}
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	for _, goos := range []string{"darwin", "freebsd"} {
		cmd := exec.Command(gobin, "build", "-o", os.DevNull, ".")
		cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH=amd64", "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("GOOS=%s go build ./cmd/knockc: %v\n%s", goos, err, out)
		}
	}
}
