//go:build linux

package systemdtest

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// sameFile reports whether two namespace files name the same namespace.
func sameFile(t *testing.T, a, b string) bool {
	t.Helper()
	ia, err := os.Stat(a)
	if err != nil {
		t.Fatal(err)
	}
	ib, err := os.Stat(b)
	if err != nil {
		t.Fatal(err)
	}
	return os.SameFile(ia, ib)
}

// A booted manager is systemd as PID 1 of namespaces of its own, answers
// on its bus with an installed unit, and leaves nothing behind.
func TestIntegrationBoot(t *testing.T) {
	RequireTools(t)
	var m *Manager
	t.Run("up", func(t *testing.T) {
		m = Boot(t, map[string]string{
			"hello.service": "[Unit]\nDefaultDependencies=no\n[Service]\nExecStart=/bin/sleep infinity\n",
			"plain.service": "[Service]\nExecStart=/bin/sleep infinity\n", // default dependencies
		})
		pid := strconv.Itoa(m.PID())
		if comm, _ := os.ReadFile("/proc/" + pid + "/comm"); strings.TrimSpace(string(comm)) != "systemd" {
			t.Errorf("/proc/%s/comm = %q, want systemd", pid, comm)
		}
		for _, ns := range []string{"pid", "mnt", "net", "uts", "ipc", "cgroup"} {
			if sameFile(t, "/proc/self/ns/"+ns, "/proc/"+pid+"/ns/"+ns) {
				t.Errorf("manager shares the %s namespace of the test", ns)
			}
		}
		if !sameFile(t, m.NetNSPath(), "/proc/"+pid+"/ns/net") {
			t.Errorf("NetNSPath() = %s, not the manager's network namespace", m.NetNSPath())
		}

		conn, err := dbus.Dial(m.BusAddress())
		if err != nil {
			t.Fatalf("dial %s: %v", m.BusAddress(), err)
		}
		defer conn.Close()
		if err := conn.Auth(nil); err != nil {
			t.Fatal(err)
		}
		if err := conn.Hello(); err != nil {
			t.Fatal(err)
		}
		sd := conn.Object("org.freedesktop.systemd1", "/org/freedesktop/systemd1")
		v, err := sd.GetProperty("org.freedesktop.systemd1.Manager.Virtualization")
		if err != nil || v.Value() != "container-other" {
			t.Errorf("Virtualization = %v, %v; want container-other (container mode)", v, err)
		}
		var unit dbus.ObjectPath
		if err := sd.Call("org.freedesktop.systemd1.Manager.LoadUnit", 0, "hello.service").Store(&unit); err != nil {
			t.Fatalf("LoadUnit(hello.service) = %v", err)
		}
		load, err := conn.Object("org.freedesktop.systemd1", unit).GetProperty("org.freedesktop.systemd1.Unit.LoadState")
		if err != nil || load.Value() != "loaded" {
			t.Errorf("hello.service LoadState = %v, %v; want loaded", load, err)
		}
		// A closed world: the host's units are out of reach. Checked
		// before anything with default dependencies starts: with Debian's
		// units visible, sysinit.target would pull in
		// systemd-tmpfiles-setup.service, which empties the host's /tmp.
		path, err := sd.GetProperty("org.freedesktop.systemd1.Manager.UnitPath")
		if got, _ := path.Value().([]string); err != nil || strings.Join(got, ":") != "/run/systemd/system:/run/systemd/transient" {
			t.Fatalf("UnitPath = %v, %v; want only /run/systemd/system and /run/systemd/transient", path, err)
		}
		for _, host := range []string{"systemd-tmpfiles-setup.service", "ssh.service", "local-fs.target"} {
			var p dbus.ObjectPath
			if err := sd.Call("org.freedesktop.systemd1.Manager.LoadUnit", 0, host).Store(&p); err != nil {
				t.Fatalf("LoadUnit(%s) = %v", host, err)
			}
			load, err := conn.Object("org.freedesktop.systemd1", p).GetProperty("org.freedesktop.systemd1.Unit.LoadState")
			if err != nil || load.Value() != "not-found" {
				t.Fatalf("host unit %s: LoadState = %v, %v; want not-found", host, load, err)
			}
		}
		for _, u := range []string{"hello.service", "plain.service"} {
			var job dbus.ObjectPath
			if err := sd.Call("org.freedesktop.systemd1.Manager.StartUnit", 0, u, "replace").Store(&job); err != nil {
				t.Fatalf("StartUnit(%s) = %v", u, err)
			}
		}
		waitActive := func(u string) {
			t.Helper()
			var p dbus.ObjectPath
			if err := sd.Call("org.freedesktop.systemd1.Manager.LoadUnit", 0, u).Store(&p); err != nil {
				t.Fatalf("LoadUnit(%s) = %v", u, err)
			}
			var state dbus.Variant
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				if state, err = conn.Object("org.freedesktop.systemd1", p).GetProperty("org.freedesktop.systemd1.Unit.ActiveState"); err == nil && state.Value() == "active" {
					return
				}
			}
			t.Fatalf("%s: ActiveState = %v, %v; want active", u, state, err)
		}
		waitActive("hello.service")
		waitActive("plain.service")
		// Left running on purpose: teardown must end it too.
		// journald may still be creating its files under load: poll.
		var j string
		var jerr error
		for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if j, jerr = m.Journal(); jerr == nil && strings.Contains(j, "systemd") {
				break
			}
		}
		if jerr != nil || !strings.Contains(j, "systemd") {
			t.Errorf("Journal() = %q, %v; want systemd's messages", j, jerr)
		}
	})
	if m == nil || m.pid == 0 {
		t.Fatal("no manager booted")
	}
	if err := syscall.Kill(m.pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("systemd (host PID %d) still there after the test: kill(0) = %v", m.pid, err)
	}
	for _, p := range []string{m.cgroup, m.NetNSPath(), m.dir} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind after the test (stat: %v)", p, err)
		}
	}
}

// A unit file name with a slash is refused, and the half-made boot is
// cleaned up all the same.
func TestIntegrationBootBadUnitName(t *testing.T) {
	RequireTools(t)
	m := &Manager{dir: t.TempDir()}
	err := m.boot(map[string]string{"../evil.service": ""})
	if err == nil || !strings.Contains(err.Error(), `"../evil.service"`) {
		t.Fatalf("boot(../evil.service) = %v, want an error naming it", err)
	}
	if err := m.teardown(); err != nil {
		t.Fatalf("teardown() = %v", err)
	}
}
