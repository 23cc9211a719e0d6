// Package systemdtest boots a real systemd (Debian's 252) as PID 1 of
// throwaway pid, mount, uts, ipc, net and cgroup namespaces, with a
// dbus-daemon system bus, so tests drive units over D-Bus exactly as on a
// server. It follows shared/recipes/systemd-netns.sh: a private /run, /dev
// and cgroup tree, a volatile journal, container mode; nothing of the
// host's systemd, journal or network is touched. Boot takes ~0.25 s.
package systemdtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// Manager is one booted systemd.
type Manager struct {
	pid     int    // host PID of the namespace's PID 1 (systemd)
	netns   string // name under /run/netns of its network namespace
	unshare *exec.Cmd
	cgroup  string
	dir     string
}

// BusAddress returns the D-Bus address of the namespace's system bus.
func (m *Manager) BusAddress() string {
	return "unix:path=/proc/" + strconv.Itoa(m.pid) + "/root/run/dbus/system_bus_socket"
}

// PID returns the host PID of the namespace's systemd.
func (m *Manager) PID() int { return m.pid }

// NetNS returns the name (under /run/netns) of the manager's network
// namespace, for `ip netns exec` and the netns harness.
func (m *Manager) NetNS() string { return m.netns }

// RequireTools fails (CI=true) or skips the test unless it runs as root
// with systemd, dbus-daemon and unshare installed.
func RequireTools(t testing.TB) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, p := range []string{"/lib/systemd/systemd", "/usr/bin/dbus-daemon", "/usr/bin/unshare", "/usr/bin/setsid"} {
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("systemdtest needs %s (Debian packages systemd, dbus, util-linux)", strings.Join(missing, ", "))
	}
	t.Skipf("systemdtest needs %s", strings.Join(missing, ", "))
}

// Boot starts systemd with the given extra unit files (name → contents)
// and returns once its system bus answers; everything is torn down in
// t.Cleanup, also when the test fails.
func Boot(t testing.TB, units map[string]string) *Manager {
	t.Helper()
	RequireTools(t)
	m := &Manager{dir: t.TempDir()}
	t.Cleanup(func() {
		if err := m.teardown(); err != nil {
			t.Errorf("systemdtest: %v", err)
		}
	})
	if err := m.boot(units); err != nil {
		t.Fatalf("systemdtest: %v", err)
	}
	return m
}

func (m *Manager) boot(units map[string]string) error {
	unitDir := filepath.Join(m.dir, "units")
	devDir := filepath.Join(m.dir, "dev")
	for _, d := range []string{unitDir, devDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	all := map[string]string{
		"probe.target": "[Unit]\nDescription=systemdtest boot target (journald + system bus only)\nWants=systemd-journald.service dbus.socket dbus.service\n",
		// Debian's dbus units lack DefaultDependencies=no (they would pull sysinit.target).
		"dbus.socket":  "[Unit]\nDefaultDependencies=no\n[Socket]\nListenStream=/run/dbus/system_bus_socket\n",
		"dbus.service": "[Unit]\nDefaultDependencies=no\nRequires=dbus.socket\nAfter=dbus.socket\n[Service]\nType=notify\nNotifyAccess=main\nExecStart=/usr/bin/dbus-daemon --system --address=systemd: --nofork --nopidfile --systemd-activation --syslog-only\n",
	}
	for name, text := range units {
		all[name] = text
	}
	for name, text := range all {
		if err := os.WriteFile(filepath.Join(unitDir, name), []byte(text), 0o644); err != nil {
			return err
		}
	}
	inner := filepath.Join(m.dir, "inner.sh")
	if err := os.WriteFile(inner, []byte(fmt.Sprintf(innerScript, unitDir, devDir)), 0o755); err != nil {
		return err
	}
	cgroot := "/sys/fs/cgroup/unified"
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		cgroot = "/sys/fs/cgroup"
	}
	m.cgroup = filepath.Join(cgroot, fmt.Sprintf("systemdtest-%d-%d", os.Getpid(), time.Now().UnixNano()%1e6))
	if err := os.Mkdir(m.cgroup, 0o755); err != nil {
		return fmt.Errorf("create cgroup %s: %w", m.cgroup, err)
	}
	log, err := os.Create(filepath.Join(m.dir, "outer.log"))
	if err != nil {
		return err
	}
	defer log.Close()
	m.unshare = exec.Command("setsid", "bash", "-c",
		fmt.Sprintf("echo $$ > %s/cgroup.procs && exec unshare --pid --fork --mount-proc --mount --propagation private --uts --ipc --net --cgroup %s", m.cgroup, inner))
	m.unshare.Stdout, m.unshare.Stderr = log, log
	if err := m.unshare.Start(); err != nil {
		return fmt.Errorf("start unshare: %w", err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if m.pid == 0 {
			m.pid = childOf(m.unshare.Process.Pid)
		}
		if m.pid != 0 && busAnswers(m.BusAddress()) {
			break
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(log.Name())
			return fmt.Errorf("systemd's bus did not answer within 15s:\n%s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	m.netns = fmt.Sprintf("ksd-%d", m.pid)
	if out, err := exec.Command("ip", "netns", "attach", m.netns, strconv.Itoa(m.pid)).CombinedOutput(); err != nil {
		m.netns = ""
		return fmt.Errorf("name its network namespace: %v: %s", err, out)
	}
	return nil
}

// childOf returns the first child of pid, or 0.
func childOf(pid int) int {
	matches, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, f := range matches {
		b, _ := os.ReadFile(f)
		if fields := strings.Fields(string(b)); len(fields) > 0 {
			n, _ := strconv.Atoi(fields[0])
			return n
		}
	}
	return 0
}

// busAnswers reports whether the bus at addr accepts a client and systemd
// is on it.
func busAnswers(addr string) bool {
	conn, err := dbus.Dial(addr)
	if err != nil {
		return false
	}
	defer conn.Close()
	if conn.Auth([]dbus.Auth{dbus.AuthExternal(strconv.Itoa(os.Getuid()))}) != nil || conn.Hello() != nil {
		return false
	}
	_, err = conn.Object("org.freedesktop.systemd1", "/org/freedesktop/systemd1").GetProperty("org.freedesktop.systemd1.Manager.SystemState")
	return err == nil
}

// teardown powers the manager off (SIGRTMIN+4), kills it if it lingers,
// and removes its cgroup and namespace name.
func (m *Manager) teardown() error {
	if m.netns != "" {
		exec.Command("ip", "netns", "del", m.netns).Run()
	}
	if m.unshare != nil && m.unshare.Process != nil {
		if m.pid != 0 {
			syscall.Kill(m.pid, syscall.Signal(34+4)) // SIGRTMIN+4: poweroff; in a container, systemd exits
		}
		done := make(chan struct{})
		go func() { m.unshare.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			if m.pid != 0 {
				syscall.Kill(m.pid, syscall.SIGKILL)
			}
			m.unshare.Process.Kill()
			<-done
		}
	}
	if m.cgroup == "" {
		return nil
	}
	var dirs []string
	filepath.Walk(m.cgroup, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		os.Remove(dirs[i])
	}
	if _, err := os.Stat(m.cgroup); err == nil {
		return fmt.Errorf("cgroup %s left behind", m.cgroup)
	}
	return nil
}

// innerScript is PID 1 of the new namespaces: a private view, then systemd.
// %[1]s is the unit directory, %[2]s the directory for the private /dev.
const innerScript = `#!/bin/bash
set -eu
mount -n -t tmpfs -o mode=755,nosuid,nodev tmpfs /run
mkdir -p /run/systemd/system /run/systemd/journald.conf.d
cp %[1]s/* /run/systemd/system/
printf '[Journal]\nStorage=volatile\n' > /run/systemd/journald.conf.d/systemdtest.conf
mount -n -o remount,bind,ro /sys
mount -n -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
mount -n --bind /proc/sys /proc/sys
mount -n -o remount,bind,ro /proc/sys
mount -n -t tmpfs -o mode=755,nosuid tmpfs %[2]s
for n in null zero full random urandom tty; do touch %[2]s/$n; mount -n --bind /dev/$n %[2]s/$n; done
mkdir %[2]s/pts %[2]s/shm
mount -n -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts %[2]s/pts
ln -s pts/ptmx %[2]s/ptmx
mount -n -t tmpfs -o mode=1777,nosuid,nodev tmpfs %[2]s/shm
mount -n --move %[2]s /dev
export container=systemdtest
exec /lib/systemd/systemd --system --unit=probe.target --log-target=journal --show-status=no
`
