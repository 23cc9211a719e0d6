//go:build linux

package service

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/knockc/knockc/internal/netns"
	"github.com/knockc/knockc/internal/systemdtest"
)

// sshdUnit is a throwaway sshd on port 2222 with a host key made for the test.
func sshdUnit(t *testing.T) string {
	t.Helper()
	key := filepath.Join(t.TempDir(), "host_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	return "[Unit]\nDescription=throwaway sshd\nDefaultDependencies=no\n[Service]\nRuntimeDirectory=sshd\n" +
		"ExecStart=/usr/sbin/sshd -D -e -f /dev/null -h " + key + " -p 2222 -o PidFile=none\n"
}

// The D-Bus path against a real systemd: start, stop, state, twice over,
// and a unit that does not exist.
func TestIntegrationSystemdUnit(t *testing.T) {
	m := systemdtest.Boot(t, map[string]string{"knock-sshd.service": sshdUnit(t)})
	ns := netns.Attach(t, m.NetNS(), "sd")
	svc := Systemd("knock-sshd.service", WithBusAddress(m.BusAddress()), WithReadyPorts(2222))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Inside the manager's network namespace, so the readiness probe dials
	// the loopback where sshd listens.
	in := func(f func() error) error { return ns.Do(f) }
	active := func() bool {
		t.Helper()
		var on bool
		if err := in(func() (err error) { on, err = svc.Active(ctx); return err }); err != nil {
			t.Fatalf("Active() = %v", err)
		}
		return on
	}
	if active() {
		t.Fatal("Active() before Start = true")
	}
	for round := 1; round <= 2; round++ {
		if err := in(func() error { return svc.Start(ctx) }); err != nil {
			t.Fatalf("round %d: Start() = %v", round, err)
		}
		if !active() {
			t.Fatalf("round %d: Active() after Start = false", round)
		}
		if out, err := ns.Exec("bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/2222; head -c 8 <&3"); err != nil || !strings.HasPrefix(out, "SSH-2.0") {
			t.Fatalf("round %d: sshd banner = %q, %v", round, out, err)
		}
		for i := 0; i < 2; i++ { // stopping a stopped unit is fine
			if err := in(func() error { return svc.Stop(ctx) }); err != nil {
				t.Fatalf("round %d: Stop() = %v", round, err)
			}
		}
		if active() {
			t.Fatalf("round %d: Active() after Stop = true", round)
		}
	}
	warnings, err := svc.(interface {
		Check(context.Context) ([]string, error)
	}).Check(ctx)
	if err != nil || len(warnings) != 1 || !strings.Contains(warnings[0], "KillMode=control-group") {
		t.Fatalf("Check() of a unit with the default KillMode = %q, %v; want one KillMode warning", warnings, err)
	}
	missing := Systemd("no-such-unit.service", WithBusAddress(m.BusAddress()))
	err = missing.Start(ctx)
	if err == nil || !strings.Contains(err.Error(), `"no-such-unit.service"`) {
		t.Fatalf("Start(no such unit) = %v, want an error naming the unit", err)
	}
}

// With no bus to reach, the systemd service fails quickly and clearly.
func TestSystemdWithoutBus(t *testing.T) {
	svc := Systemd("ssh.service", WithBusAddress("unix:path="+filepath.Join(t.TempDir(), "no-bus")))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	t0 := time.Now()
	_, err := svc.Active(ctx)
	if err == nil || !strings.Contains(err.Error(), "connect to the system bus") {
		t.Fatalf("Active() without a bus = %v, want a connect error", err)
	}
	if time.Since(t0) > time.Second {
		t.Fatalf("Active() without a bus took %v, want a quick failure", time.Since(t0))
	}
}
