package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/knockc/knockc/internal/testenv"
)

// The client half of knockc (check, render, knock, import) runs off Linux
// too, e.g. knocking from a macOS laptop or as ssh's ProxyCommand there.
func TestBuildsForMacOSAndBSD(t *testing.T) {
	if testing.Short() {
		t.Skip("cross builds take a while")
	}
	gobin := testenv.GoTool(t)
	for _, goos := range []string{"darwin", "freebsd"} {
		cmd := exec.Command(gobin, "build", "-o", os.DevNull, ".")
		cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH=amd64", "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("GOOS=%s go build ./cmd/knockc: %v\n%s", goos, err, out)
		}
	}
}

// The binary never links the test harness: internal/testenv and package
// testing stay out of `go list -deps`, on Linux (where knockc demo uses
// internal/sandbox) and elsewhere.
func TestBinaryLinksNoTesting(t *testing.T) {
	gobin := testenv.GoTool(t)
	for _, goos := range []string{"linux", "darwin"} {
		cmd := exec.Command(gobin, "list", "-deps", ".")
		cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH=amd64", "CGO_ENABLED=0")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("GOOS=%s go list -deps ./cmd/knockc: %v", goos, err)
		}
		deps := strings.Fields(string(out))
		if len(deps) == 0 || deps[len(deps)-1] != "github.com/knockc/knockc/cmd/knockc" {
			t.Fatalf("GOOS=%s go list -deps ./cmd/knockc = %q, want a list ending in the command", goos, deps)
		}
		for _, dep := range deps {
			if dep == "testing" || strings.Contains(dep, "/internal/testenv") {
				t.Errorf("GOOS=%s: knockc links %s", goos, dep)
			}
		}
	}
}
