//go:build linux

package service

import (
	"context"
	"errors"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/knockc/knockc/internal/testenv/netns"
	"github.com/knockc/knockc/internal/testenv/systemdtest"
)

// sshdUnit is a throwaway sshd on port 2222 with a host key made for the
// test: -f /dev/null and -h keep /etc/ssh out of it.
func sshdUnit(t *testing.T) string {
	t.Helper()
	netns.RequireRoot(t, "ssh-keygen") // skips, or fails under CI=true
	key := filepath.Join(t.TempDir(), "host_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	return "[Unit]\nDescription=throwaway sshd\nDefaultDependencies=no\n" +
		"[Service]\nRuntimeDirectory=sshd\n" +
		"ExecStart=/usr/sbin/sshd -D -e -f /dev/null -h " + key + " -p 2222 -o PidFile=none\n"
}

// units of the manager the systemd tests share.
func testUnits(t *testing.T) map[string]string {
	return map[string]string{
		"knock-sshd.service": sshdUnit(t),
		"broken.service":     "[Unit]\nDefaultDependencies=no\n[Service]\nType=oneshot\nExecStart=/bin/false\n",
		"sleeper.service":    "[Unit]\nDefaultDependencies=no\n[Service]\nKillMode=process\nExecStart=/bin/sleep infinity\n",
	}
}

// The D-Bus path against a real systemd 252 booted in namespaces; one
// manager serves every subtest.
func TestIntegrationSystemd(t *testing.T) {
	netns.RequireRoot(t, "/usr/sbin/sshd", "ssh-keygen")
	m := systemdtest.Boot(t, testUnits(t))
	ns := netns.Attach(t, m.NetNS(), "sd")
	bus := WithBusAddress(m.BusAddress())

	// Start/Stop of a real sshd, twice over, with readiness on its port in
	// the manager's network namespace (where the probe must run).
	t.Run("sshd", func(t *testing.T) {
		svc := Systemd("knock-sshd.service", bus, WithReadyPorts(2222))
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if isActive(t, ns, svc) {
			t.Fatal("Active() before Start = true")
		}
		for round := 1; round <= 2; round++ {
			for i := 0; i < 2; i++ { // starting a started unit is fine
				if err := inNS(t, ns, func() error { return svc.Start(ctx) }); err != nil {
					t.Fatalf("round %d: Start() #%d = %v", round, i+1, err)
				}
			}
			if !isActive(t, ns, svc) {
				t.Fatalf("round %d: Active() after Start = false", round)
			}
			banner, err := ns.Exec("bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/2222; head -c 8 <&3")
			if err != nil || !strings.HasPrefix(banner, "SSH-2.0") {
				t.Fatalf("round %d: banner on the namespace's 127.0.0.1:2222 = %q, %v; want SSH-2.0", round, banner, err)
			}
			for i := 0; i < 2; i++ { // stopping a stopped unit is fine
				if err := inNS(t, ns, func() error { return svc.Stop(ctx) }); err != nil {
					t.Fatalf("round %d: Stop() #%d = %v", round, i+1, err)
				}
			}
			if isActive(t, ns, svc) {
				t.Fatalf("round %d: Active() after Stop = true", round)
			}
			if dials(t, ns, "2222") {
				t.Fatalf("round %d: port 2222 still accepts after Stop", round)
			}
		}
	})

	// Once stopped, systemd unloads the unit (GetUnit fails); Active
	// still answers false without an error.
	t.Run("unloaded", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		svc := Systemd("sleeper.service", bus)
		if err := svc.Start(ctx); err != nil {
			t.Fatalf("Start() = %v", err)
		}
		if err := svc.Stop(ctx); err != nil {
			t.Fatalf("Stop() = %v", err)
		}
		conn := rawBus(t, m.BusAddress())
		sd := conn.Object("org.freedesktop.systemd1", "/org/freedesktop/systemd1")
		var err error
		for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			var p dbus.ObjectPath
			if err = sd.CallWithContext(ctx, "org.freedesktop.systemd1.Manager.GetUnit", 0, "sleeper.service").Store(&p); err != nil {
				break
			}
		}
		var de dbus.Error
		if !errors.As(err, &de) || de.Name != "org.freedesktop.systemd1.NoSuchUnit" {
			t.Fatalf("GetUnit(sleeper.service) after Stop = %v; want NoSuchUnit once systemd unloads it", err)
		}
		if on, err := svc.Active(ctx); on || err != nil {
			t.Fatalf("Active() of an unloaded unit = %v, %v; want false, nil", on, err)
		}
		if err := svc.Stop(ctx); err != nil {
			t.Fatalf("Stop() of an unloaded unit = %v", err)
		}
	})

	t.Run("no such unit", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		svc := Systemd("no-such-unit.service", bus)
		err := svc.Start(ctx)
		if err == nil || !strings.Contains(err.Error(), `start systemd unit "no-such-unit.service": `) || !strings.Contains(err.Error(), "not found") {
			t.Fatalf("Start(no such unit) = %v, want an error naming the unit", err)
		}
		if on, err := svc.Active(ctx); on || err != nil {
			t.Fatalf("Active(no such unit) = %v, %v; want false, nil", on, err)
		}
		warnings, err := svc.(interface {
			Check(context.Context) ([]string, error)
		}).Check(ctx)
		if err != nil || len(warnings) != 1 || !strings.Contains(warnings[0], `"no-such-unit.service" is not-found`) {
			t.Fatalf("Check(no such unit) = %q, %v; want one not-found warning", warnings, err)
		}
	})

	t.Run("job fails", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := Systemd("broken.service", bus).Start(ctx)
		if err == nil || !strings.Contains(err.Error(), `start systemd unit "broken.service": start job ended "failed" (result exit-code; see journalctl -u broken.service)`) {
			t.Fatalf("Start(broken.service) = %v, want the job's result named", err)
		}
	})

	t.Run("check", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		check := func(unit string) []string {
			t.Helper()
			w, err := Systemd(unit, bus).(interface {
				Check(context.Context) ([]string, error)
			}).Check(ctx)
			if err != nil {
				t.Fatalf("Check(%s) = %v", unit, err)
			}
			return w
		}
		if w := check("knock-sshd.service"); len(w) != 1 || !strings.Contains(w[0], "KillMode=control-group") {
			t.Errorf("Check(default KillMode) = %q; want one KillMode warning", w)
		}
		if w := check("sleeper.service"); len(w) != 0 {
			t.Errorf("Check(KillMode=process) = %q; want none", w)
		}
	})

	// A connection that died is replaced on the next call: here dbus-daemon
	// itself is killed, and socket activation brings a new one up.
	t.Run("reconnect", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		svc := Systemd("sleeper.service", bus)
		if _, err := svc.Active(ctx); err != nil {
			t.Fatalf("Active() = %v", err)
		}
		old := svc.(*systemd).conn
		if err := svc.(*systemd).Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Active(ctx); err != nil {
			t.Fatalf("Active() after Close = %v", err)
		}
		if svc.(*systemd).conn == old {
			t.Fatal("Close() kept the connection")
		}
		old = svc.(*systemd).conn
		kill := rawBus(t, m.BusAddress()).Object("org.freedesktop.systemd1", "/org/freedesktop/systemd1")
		// KillUnit returns before dbus-daemon dies: the reply may be lost.
		kill.CallWithContext(ctx, "org.freedesktop.systemd1.Manager.KillUnit", 0, "dbus.service", "all", int32(9))
		for deadline := time.Now().Add(5 * time.Second); old.Connected() && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		if old.Connected() {
			t.Fatal("the connection survived dbus-daemon")
		}
		// systemd itself reconnects to the new bus a moment later.
		var err error
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if err = svc.Start(ctx); err == nil {
				break
			}
		}
		if err != nil {
			t.Fatalf("Start() after dbus-daemon was killed = %v", err)
		}
		if on, err := svc.Active(ctx); !on || err != nil {
			t.Fatalf("Active() after Start over the new bus = %v, %v", on, err)
		}
		if err := svc.Stop(ctx); err != nil {
			t.Fatalf("Stop() = %v", err)
		}
	})

	// Without WithBusAddress the bus is DBUS_SYSTEM_BUS_ADDRESS's.
	t.Run("env", func(t *testing.T) {
		t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", m.BusAddress())
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if on, err := Systemd("sleeper.service").Active(ctx); on || err != nil {
			t.Fatalf("Active() over DBUS_SYSTEM_BUS_ADDRESS = %v, %v; want false, nil", on, err)
		}
	})
}

// rawBus is a plain bus connection for the test's own checks.
func rawBus(t *testing.T, addr string) *dbus.Conn {
	t.Helper()
	conn, err := dial(context.Background(), addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// With no bus to reach, or a bus that never answers, a systemd service
// fails clearly within its deadline instead of hanging.
func TestSystemdWithoutBus(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	t.Run("no socket", func(t *testing.T) {
		svc := Systemd("ssh.service", WithBusAddress("unix:path="+filepath.Join(dir, "no-bus")))
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		for _, op := range []func() error{
			func() error { _, err := svc.Active(ctx); return err },
			func() error { return svc.Start(ctx) },
			func() error { return svc.Stop(ctx) },
		} {
			err := op()
			if err == nil || !strings.Contains(err.Error(), `systemd unit "ssh.service": connect to the system bus: `) {
				t.Fatalf("without a bus: %v, want a connect error naming the unit", err)
			}
		}
		if ctx.Err() != nil {
			t.Fatal("failing to connect took up to the deadline, want it at once")
		}
	})
	t.Run("silent bus", func(t *testing.T) {
		path := filepath.Join(dir, "silent")
		l, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				defer c.Close() // accepted, never answered
			}
		}()
		svc := Systemd("ssh.service", WithBusAddress("unix:path="+path))
		for _, op := range []struct {
			name string
			f    func(context.Context) error
		}{
			{"Active", func(ctx context.Context) error { _, err := svc.Active(ctx); return err }},
			{"Start", svc.Start},
		} {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			t0 := time.Now()
			err := op.f(ctx)
			cancel()
			if err == nil || !strings.Contains(err.Error(), "connect to the system bus") || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("%s() on a silent bus = %v, want a connect error at the deadline", op.name, err)
			}
			if took := time.Since(t0); took > 2*time.Second {
				t.Fatalf("%s() on a silent bus took %v, want about the 300ms deadline", op.name, took)
			}
		}
	})
}
