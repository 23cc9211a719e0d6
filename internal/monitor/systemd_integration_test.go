//go:build linux

package monitor_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/internal/testenv"
	"github.com/knockc/knockc/internal/testenv/netns"
	"github.com/knockc/knockc/internal/testenv/sshdtest"
	"github.com/knockc/knockc/internal/testenv/systemdtest"
	"github.com/knockc/knockc/ruleset/nftkernel"
)

// The managed door over D-Bus, against a real systemd: the knock makes the
// monitor start the sshd unit, the knocker logs in with ssh, the close
// sequence makes it stop the unit while the session lives on.
func TestIntegrationMonitorManagesSystemdUnit(t *testing.T) {
	t.Parallel()
	netns.RequireRoot(t, "ip", "nft", "sshd", "ssh", "ssh-keygen")
	sshd := sshdtest.New(t, 22)
	argv := append(sshd.StartArgv(), "-D", "-e")
	// KillMode=process, as Debian's ssh.service has it: stopping the unit
	// ends the listener only, not the sessions it forked.
	unit := "[Unit]\nDescription=sshd behind a knock\nDefaultDependencies=no\n[Service]\nKillMode=process\nRuntimeDirectory=sshd\nExecStart=" + strings.Join(argv, " ") + "\n"
	m := systemdtest.Boot(t, map[string]string{"knock-sshd.service": unit})

	server := netns.Attach(t, m.NetNS(), "sd")
	server.Run(t, "ip", "link", "set", "lo", "up")
	client, err := netns.Create("kcsd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Remove() })
	link, err := netns.Link(server, client, 1)
	if err != nil {
		t.Fatal(err)
	}

	spec := `[door.ssh]
sequence       = ["7000/tcp", "8000/tcp", "9000/tcp"]
close_sequence = ["9000/tcp", "8000/tcp", "7000/tcp"]
protect        = ["22/tcp"]
service        = "knock-sshd.service"
`
	path := filepath.Join(t.TempDir(), "knock.toml")
	os.WriteFile(path, []byte(spec), 0o644)
	s, err := compiler.Parse(path, []byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := nftkernel.Open(server.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Apply(compiler.Compile(s), nil); err != nil {
		t.Fatalf("Apply() = %v", err)
	}

	e := &sshEnv{t: t, pair: &netns.Pair{Server: server, Client: client, ServerV4: link.ServerV4, Primary: link}, sshd: sshd, spec: path}
	out := &testenv.Buffer{}
	cmd := exec.Command("ip", "netns", "exec", m.NetNS(), knockcBin, "monitor", "--reconcile", "500ms", "--log-format", "json", path)
	cmd.Env = append(os.Environ(), "DBUS_SYSTEM_BUS_ADDRESS="+m.BusAddress())
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e.mon = &monitorProc{cmd: cmd, out: out}
	t.Cleanup(func() { e.mon.kill(syscall.SIGTERM) })
	e.waitFor("monitor ready", func() bool { return strings.Contains(out.String(), `"monitor ready"`) })

	unitActive := func() bool {
		o, _ := exec.Command("busctl", "--address="+m.BusAddress(), "get-property", "org.freedesktop.systemd1",
			"/org/freedesktop/systemd1/unit/knock_2dsshd_2eservice", "org.freedesktop.systemd1.Unit", "ActiveState").Output()
		return strings.Contains(string(o), `"active"`)
	}
	if unitActive() {
		t.Fatal("the sshd unit runs before any knock")
	}
	// One plain connect after the knock: the SYN waits in the queue while
	// systemd starts the unit, then completes at once.
	took, err := e.knockThenConnect(link.ServerV4, 5*time.Second)
	if err != nil {
		t.Fatalf("one connect after the knock: %v\nmonitor log:\n%s", err, out.String())
	}
	t.Logf("knock, then one connect through a unit started over D-Bus: %s", took.Round(time.Millisecond))
	if took > 700*time.Millisecond {
		t.Errorf("connect took %s, want the unit's start time plus a few ms, not a SYN retransmission", took)
	}
	sess := e.login()
	if !unitActive() {
		t.Fatal("the sshd unit does not run after the knock")
	}
	sess.alive(t, "over dbus")
	e.knock(9000, 8000, 7000)
	e.waitFor("the unit stopped after the close sequence", func() bool { return !unitActive() })
	e.wantPort(netns.Refused, "after the close sequence")
	sess.alive(t, "still here")
}
