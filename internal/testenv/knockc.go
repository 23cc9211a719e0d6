package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// BuildKnockc builds the knockc binary into dir, its version set to
// version, and returns its path; it fails the test on error. It builds the
// way dist/build-deb.sh does (static, -trimpath), so every test that needs
// the binary, and the package test, share one compile in the build cache.
func BuildKnockc(t testing.TB, dir, version string) string {
	t.Helper()
	bin := filepath.Join(dir, "knockc")
	cmd := exec.Command(GoTool(t), "build", "-trimpath", "-ldflags", "-X main.version="+version, "-o", bin, "github.com/knockc/knockc/cmd/knockc")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build knockc: %v\n%s", err, out)
	}
	return bin
}
