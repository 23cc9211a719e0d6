package main

import (
	"strings"
	"testing"
)

// render --polkit lists exactly the units the spec's doors manage, each
// once; a spec without any says so on stderr.
func TestRenderPolkit(t *testing.T) {
	spec := writeSpec(t, `[door.ssh]
sequence = ["7000/tcp", "8000/tcp", "9000/tcp"]
protect  = ["22/tcp"]
service  = "ssh"

[door.ssh6]
sequence = ["7300/tcp", "7400/tcp"]
protect  = ["2222/tcp"]
service  = "ssh.service"

[door.admin]
sequence = ["7100/tcp", "7200/tcp"]
protect  = ["8443/tcp"]
service  = "web-admin.service"

[door.plain]
sequence = ["7500/tcp", "7600/tcp"]
protect  = ["8080/tcp"]
`)
	code, out, errOut := runCLI(t, "render", "--polkit", spec)
	if code != 0 || errOut != "" {
		t.Fatalf("render --polkit = %d, stderr %q; want 0 and nothing", code, errOut)
	}
	if want := "\n    var units = [\"web-admin.service\",\"ssh.service\"];\n"; !strings.Contains(out, want) {
		t.Errorf("render --polkit lacks %q:\n%s", want, out)
	}
	if !strings.Contains(out, "polkit.addRule(") || !strings.Contains(out, `action.id == "org.freedesktop.systemd1.manage-units"`) {
		t.Errorf("render --polkit is not the shipped rule:\n%s", out)
	}

	code, out, errOut = runCLI(t, "render", "--polkit", "../../examples/classic-ssh.toml")
	if code != 0 || !strings.Contains(out, "\n    var units = [];\n") {
		t.Errorf("render --polkit of an unmanaged spec = %d, want 0 and an empty list:\n%s", code, out)
	}
	if !strings.Contains(errOut, "names a systemd unit") {
		t.Errorf("render --polkit of an unmanaged spec: stderr %q, want a note that it allows nothing", errOut)
	}
}
