package compiler_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/knockc/knockc/internal/testenv"
)

// TestDepsArePure: the compiler never reaches the kernel, so `knockc check`
// and `knockc render` need no root and no netlink (docs/design.md, "One way through").
// Importing anything of google/nftables, even its expr package, would pull
// in mdlayher/netlink; this fails as soon as something does.
func TestDepsArePure(t *testing.T) {
	const pkg = "github.com/knockc/knockc/compiler"
	cmd := exec.Command(testenv.GoTool(t), "list", "-deps", pkg)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, stderr)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 || deps[len(deps)-1] != pkg {
		t.Fatalf("go list -deps %s = %q, want a list ending in the package itself", pkg, deps)
	}
	// The list must be real: the loader's TOML decoder is in it.
	if !strings.Contains(string(out), "github.com/BurntSushi/toml\n") {
		t.Fatalf("go list -deps %s lists no github.com/BurntSushi/toml:\n%s", pkg, out)
	}
	for _, dep := range deps {
		for _, banned := range []string{"netlink", "google/nftables", "golang.org/x/sys/unix"} {
			if strings.Contains(dep, banned) {
				t.Errorf("%s depends on %s (matches %q): the compiler must stay pure", pkg, dep, banned)
			}
		}
	}
}
