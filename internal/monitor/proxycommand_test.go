//go:build linux

package monitor_test

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/internal/testenv/netns"
	"github.com/knockc/knockc/internal/testenv/sshdtest"
	"github.com/knockc/knockc/ruleset/nftkernel"
)

// One ssh command from the client knocks and logs in, with knockc as its
// ProxyCommand; a wrong sequence fails with a clear message, in time.
func TestIntegrationSSHProxyCommandKnocks(t *testing.T) {
	t.Parallel()
	netns.RequireRoot(t, "ip", "nft", "sshd", "ssh", "ssh-keygen")
	pair := netns.NewPair(t)
	spec, err := compiler.Parse("knock.toml", []byte(`[door.ssh]
sequence = ["7000/tcp", "8000/tcp", "9000/tcp"]
protect  = ["22/tcp"]
`))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := nftkernel.Open(pair.Server.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Apply(compiler.Compile(spec), nil); err != nil {
		t.Fatalf("Apply() = %v", err)
	}
	sshd := sshdtest.New(t, 22)
	pair.Server.Run(t, sshd.StartArgv()[0], sshd.StartArgv()[1:]...)

	ssh := func(steps string) (string, time.Duration, error) {
		proxy := knockcBin + " knock --timeout 3s --pipe %p %h " + steps
		args := append([]string{"netns", "exec", pair.Client.Name, "ssh", "-o", "ProxyCommand=" + proxy}, sshd.ClientArgs(pair.ServerV4.String())...)
		t0 := time.Now()
		out, err := exec.Command("ip", append(args, "echo logged-in")...).CombinedOutput()
		return string(out), time.Since(t0), err
	}
	// The wrong sequence first: a grant would outlive it.
	out, took, err := ssh("7000/tcp 9000/tcp 8000/tcp")
	if err == nil || !strings.Contains(out, "door did not open") {
		t.Fatalf("ssh with a wrong sequence = %v, want a failure saying the door did not open:\n%s", err, out)
	}
	if took > 6*time.Second {
		t.Fatalf("ssh with a wrong sequence failed after %s, want within the 3 s knock timeout (plus ssh's own start)", took)
	}

	out, took, err = ssh("7000/tcp 8000/tcp 9000/tcp")
	if err != nil || !strings.Contains(out, "logged-in") {
		t.Fatalf("ssh with the knock as ProxyCommand = %v:\n%s", err, out)
	}
	t.Logf("knock + ssh login in one command: %s", took.Round(time.Millisecond))
}
