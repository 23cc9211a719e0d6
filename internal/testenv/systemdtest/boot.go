package systemdtest

import (
	"errors"
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

	"github.com/knockc/knockc/internal/testenv"
)

// Manager is one booted systemd in namespaces of its own.
type Manager struct {
	pid     int    // host PID of the namespaces' PID 1 (systemd)
	netns   string // name under /run/netns of its network namespace
	unshare *exec.Cmd
	// unshareDone is closed once unshare was reaped.
	unshareDone chan struct{}
	cgroup      string // host cgroup that is the namespace's cgroup root
	dir         string // unit files, PID 1's script, its /dev mount point, logs
}

// bootTimeout bounds how long Boot waits for the system bus to answer.
const bootTimeout = 15 * time.Second

// stopTimeout bounds how long teardown waits for systemd to power off
// before it kills it.
const stopTimeout = 10 * time.Second

// tools are the programs Boot runs, with the Debian package of each.
var tools = []struct{ path, pkg string }{
	{"/lib/systemd/systemd", "systemd"},
	{"/usr/bin/dbus-daemon", "dbus"},
	{"/usr/bin/unshare", "util-linux"},
	{"/usr/bin/setsid", "util-linux"},
	{"/usr/bin/nsenter", "util-linux"},
	{"ip", "iproute2"},
	{"bash", "bash"},
}

// RequireTools stops the test unless it runs as root with systemd,
// dbus-daemon, util-linux and iproute2 installed: it skips the test, or
// fails it when the environment variable CI is "true".
func RequireTools(t testing.TB) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, fmt.Sprintf("root (euid %d)", os.Geteuid()))
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool.path); err != nil {
			missing = append(missing, fmt.Sprintf("%s (Debian package %s)", tool.path, tool.pkg))
		}
	}
	if len(missing) == 0 {
		return
	}
	testenv.Unavailable(t, "systemdtest: needs %s", strings.Join(missing, ", "))
}

// Boot boots systemd with the given extra unit files (file name →
// contents, installed in /run/systemd/system) and returns once the
// namespace's system bus answers with systemd on it. Everything is torn
// down in t.Cleanup, also when the test fails. Boot fails the test when
// systemd does not come up within bootTimeout, and skips it (see
// RequireTools) when it cannot run here.
func Boot(t testing.TB, units map[string]string) *Manager {
	t.Helper()
	RequireTools(t)
	m := &Manager{dir: t.TempDir()}
	t.Cleanup(func() {
		if t.Failed() && m.pid != 0 {
			if j, err := m.Journal(); err == nil {
				t.Logf("systemdtest: journal of the namespace (host PID %d):\n%s", m.pid, j)
			}
		}
		if err := m.teardown(); err != nil {
			t.Errorf("systemdtest: %v", err)
		}
	})
	if err := m.boot(units); err != nil {
		t.Fatalf("systemdtest: boot: %v", err)
	}
	return m
}

// BusAddress returns the D-Bus address of the namespace's system bus, for
// DBUS_SYSTEM_BUS_ADDRESS or service.WithBusAddress. A client must say
// Hello, as on any bus.
func (m *Manager) BusAddress() string {
	return "unix:path=/proc/" + strconv.Itoa(m.pid) + "/root/run/dbus/system_bus_socket"
}

// PID returns the host PID of the namespaces' PID 1, systemd: nsenter -t
// PID joins its namespaces. PIDs systemd reports (MainPID) are relative to
// its own PID namespace.
func (m *Manager) PID() int { return m.pid }

// NetNS returns the name of the manager's network namespace under
// /run/netns, for `ip netns exec NAME` and netns.Attach.
func (m *Manager) NetNS() string { return m.netns }

// NetNSPath returns the file of the manager's network namespace,
// /run/netns/NAME (the same namespace as /proc/PID/ns/net), to open for
// setns or nftables.WithNetNSFd.
func (m *Manager) NetNSPath() string { return filepath.Join("/run/netns", m.netns) }

// Journal returns the tail of the namespace's journal (its last 80
// entries); it fails when journalctl cannot be run inside the namespace's
// mount namespace.
func (m *Manager) Journal() (string, error) {
	out, err := exec.Command("nsenter", "-t", strconv.Itoa(m.pid), "-m", "--",
		"journalctl", "-D", "/run/log/journal", "--no-pager", "-o", "short-monotonic", "-n", "80").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("journalctl: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// baseUnits are the whole world of units the manager sees besides the
// test's own (its unit path is only /run/systemd/system): journald, the
// system bus, a boot target, empty stand-ins for the targets that units
// with default dependencies and power-off need. Debian's units are not
// visible at all, so no unit of the test can pull in, say,
// systemd-tmpfiles-setup.service, which would empty the host's /tmp: the
// namespace shares the host's root file system.
var baseUnits = map[string]string{
	"systemdtest.target": "[Unit]\nDescription=systemdtest boot target (journald + system bus only)\nDefaultDependencies=no\n" +
		"Wants=systemd-journald.service dbus.socket dbus.service\n",
	"systemd-journald.socket": "[Unit]\nDescription=Journal Socket\nDefaultDependencies=no\n" +
		"[Socket]\nListenDatagram=/run/systemd/journal/socket\nListenStream=/run/systemd/journal/stdout\n" +
		"PassCredentials=yes\nPassSecurity=yes\nSocketMode=0666\nTimestamping=us\nService=systemd-journald.service\n",
	"systemd-journald-dev-log.socket": "[Unit]\nDescription=Journal Socket (/dev/log)\nDefaultDependencies=no\n" +
		"[Socket]\nListenDatagram=/run/systemd/journal/dev-log\nSymlinks=/dev/log\n" +
		"PassCredentials=yes\nPassSecurity=yes\nSocketMode=0666\nTimestamping=us\nService=systemd-journald.service\n",
	"systemd-journald.service": "[Unit]\nDescription=Journal Service\nDefaultDependencies=no\n" +
		"Requires=systemd-journald.socket\nAfter=systemd-journald.socket systemd-journald-dev-log.socket\n" +
		"[Service]\nType=notify\nExecStart=/lib/systemd/systemd-journald\n" +
		"Sockets=systemd-journald.socket systemd-journald-dev-log.socket\n" +
		"RuntimeDirectory=systemd/journal\nRuntimeDirectoryPreserve=yes\nStandardOutput=null\n" +
		"Restart=always\nRestartSec=0\nFileDescriptorStoreMax=4224\n",
	"dbus.socket": "[Unit]\nDescription=D-Bus System Message Bus Socket\nDefaultDependencies=no\n" +
		"[Socket]\nListenStream=/run/dbus/system_bus_socket\n",
	"dbus.service": "[Unit]\nDescription=D-Bus System Message Bus\nDefaultDependencies=no\nRequires=dbus.socket\nAfter=dbus.socket\n" +
		"[Service]\nType=notify\nNotifyAccess=main\n" +
		"ExecStart=/usr/bin/dbus-daemon --system --address=systemd: --nofork --nopidfile --systemd-activation --syslog-only\n",
	// What default dependencies (Requires=sysinit.target, After=basic.target,
	// Conflicts=shutdown.target) and SIGRTMIN+4 (poweroff.target) refer to.
	"sysinit.target":  "[Unit]\nDescription=System Initialization (empty)\nDefaultDependencies=no\n",
	"basic.target":    "[Unit]\nDescription=Basic System (empty)\nDefaultDependencies=no\nRequires=sysinit.target\nAfter=sysinit.target\n",
	"sockets.target":  "[Unit]\nDescription=Sockets (empty)\nDefaultDependencies=no\n",
	"timers.target":   "[Unit]\nDescription=Timers (empty)\nDefaultDependencies=no\n",
	"paths.target":    "[Unit]\nDescription=Paths (empty)\nDefaultDependencies=no\n",
	"slices.target":   "[Unit]\nDescription=Slices (empty)\nDefaultDependencies=no\n",
	"shutdown.target": "[Unit]\nDescription=System Shutdown\nDefaultDependencies=no\nRefuseManualStart=yes\n",
	"umount.target":   "[Unit]\nDescription=Unmount All Filesystems\nDefaultDependencies=no\nRefuseManualStart=yes\n",
	"final.target":    "[Unit]\nDescription=Late Shutdown Services\nDefaultDependencies=no\nRefuseManualStart=yes\nAfter=shutdown.target umount.target\n",
	"poweroff.target": "[Unit]\nDescription=System Power Off\nDefaultDependencies=no\n" +
		"Requires=systemd-poweroff.service\nAfter=systemd-poweroff.service\nAllowIsolate=yes\n",
	"systemd-poweroff.service": "[Unit]\nDescription=System Power Off\nDefaultDependencies=no\n" +
		"Requires=shutdown.target umount.target final.target\nAfter=shutdown.target umount.target final.target\n" +
		"SuccessAction=poweroff-force\n",
}

// boot writes the units and PID 1's script, makes the host cgroup, starts
// unshare in it and waits until the bus answers, then names the network
// namespace.
func (m *Manager) boot(units map[string]string) error {
	unitDir := filepath.Join(m.dir, "units")
	devDir := filepath.Join(m.dir, "dev")
	for _, d := range []string{unitDir, devDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	all := map[string]string{}
	for name, text := range baseUnits {
		all[name] = text
	}
	for name, text := range units {
		if name == "" || strings.ContainsRune(name, '/') || name == "." || name == ".." {
			return fmt.Errorf("unit file name %q: want a plain file name", name)
		}
		all[name] = text
	}
	for name, text := range all {
		if err := os.WriteFile(filepath.Join(unitDir, name), []byte(text), 0o644); err != nil {
			return err
		}
	}
	inner := filepath.Join(m.dir, "init.sh")
	if err := os.WriteFile(inner, []byte(fmt.Sprintf(initScript, unitDir, devDir)), 0o755); err != nil {
		return err
	}

	cgroot := "/sys/fs/cgroup/unified" // hybrid host
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		cgroot = "/sys/fs/cgroup" // pure v2 host
	}
	cg := filepath.Join(cgroot, fmt.Sprintf("systemdtest-%d-%d", os.Getpid(), time.Now().UnixNano()%1e9))
	if err := os.Mkdir(cg, 0o755); err != nil {
		return fmt.Errorf("create cgroup: %w", err)
	}
	m.cgroup = cg

	logPath := filepath.Join(m.dir, "outer.log")
	log, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer log.Close()
	// bash moves itself into the cgroup, then becomes unshare, whose
	// child becomes PID 1 of the new namespaces and runs init.sh.
	// --kill-child and Pdeathsig end everything with the test binary.
	m.unshare = exec.Command("bash", "-c", `echo $$ > "$1/cgroup.procs" && exec unshare --pid --fork --kill-child=SIGKILL --mount-proc --mount --propagation private --uts --ipc --net --cgroup "$2"`,
		"systemdtest", cg, inner)
	m.unshare.Stdout, m.unshare.Stderr = log, log
	m.unshare.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	if err := m.unshare.Start(); err != nil {
		return fmt.Errorf("start unshare: %w", err)
	}
	exited := make(chan struct{})
	go func() { m.unshare.Wait(); close(exited) }()
	m.unshareDone = exited

	deadline := time.Now().Add(bootTimeout)
	for {
		if m.pid == 0 {
			m.pid = childOf(m.unshare.Process.Pid)
		}
		if m.pid != 0 && busAnswers(m.BusAddress()) {
			break
		}
		select {
		case <-exited:
			out, _ := os.ReadFile(logPath)
			return fmt.Errorf("unshare exited before systemd came up: %s\n%s", m.unshare.ProcessState, out)
		default:
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(logPath)
			return fmt.Errorf("systemd's bus did not answer within %v:\n%s", bootTimeout, out)
		}
		time.Sleep(10 * time.Millisecond)
	}

	name := fmt.Sprintf("ksd-%d", m.pid)
	if out, err := exec.Command("ip", "netns", "attach", name, strconv.Itoa(m.pid)).CombinedOutput(); err != nil {
		return fmt.Errorf("name its network namespace: %w: %s", err, strings.TrimSpace(string(out)))
	}
	m.netns = name
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
// answers on it.
func busAnswers(addr string) bool {
	conn, err := dbus.Dial(addr)
	if err != nil {
		return false
	}
	defer conn.Close()
	if conn.Auth([]dbus.Auth{dbus.AuthExternal(strconv.Itoa(os.Getuid()))}) != nil || conn.Hello() != nil {
		return false
	}
	_, err = conn.Object("org.freedesktop.systemd1", "/org/freedesktop/systemd1").
		GetProperty("org.freedesktop.systemd1.Manager.SystemState")
	return err == nil
}

// sigPoweroff is SIGRTMIN+4 as glibc (and so systemd) counts: systemd
// powers off, which in a container means it exits and its PID namespace
// ends.
const sigPoweroff = syscall.Signal(34 + 4)

// teardown powers systemd off (SIGKILL when it lingers), waits for
// unshare, and removes the network namespace's name and the host cgroup.
func (m *Manager) teardown() error {
	var errs []error
	if m.netns != "" {
		if out, err := exec.Command("ip", "netns", "del", m.netns).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("remove netns name %q: %w: %s", m.netns, err, strings.TrimSpace(string(out))))
		}
	}
	if m.unshare != nil {
		if m.pid != 0 {
			syscall.Kill(m.pid, sigPoweroff)
		} else {
			m.unshare.Process.Kill()
		}
		select {
		case <-m.unshareDone:
		case <-time.After(stopTimeout):
			errs = append(errs, fmt.Errorf("systemd (host PID %d) did not power off within %v: killed it", m.pid, stopTimeout))
			if m.pid != 0 {
				syscall.Kill(m.pid, syscall.SIGKILL)
			}
			m.unshare.Process.Kill()
			<-m.unshareDone
		}
	}
	if m.cgroup != "" {
		if err := removeCgroup(m.cgroup); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// removeCgroup removes the cgroup dir and its children, deepest first,
// retrying for a moment while the last processes in it are reaped.
func removeCgroup(dir string) error {
	var err error
	for try := 0; try < 100; try++ {
		var dirs []string
		filepath.WalkDir(dir, func(p string, d os.DirEntry, werr error) error {
			if werr == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		err = nil
		for i := len(dirs) - 1; i >= 0; i-- {
			if rerr := os.Remove(dirs[i]); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
				err = rerr
			}
		}
		if _, serr := os.Stat(dir); errors.Is(serr, os.ErrNotExist) {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("cgroup %s left behind: %w", dir, err)
}

// initScript is PID 1 of the new namespaces: a private view, then
// systemd. %[1]s is the unit directory, %[2]s the mount point for the
// private /dev.
const initScript = `#!/bin/bash
set -eu
mount -n -t tmpfs -o mode=755,nosuid,nodev tmpfs /run
mkdir -p /run/systemd/system /run/systemd/journald.conf.d
cp %[1]s/* /run/systemd/system/
# never the host's /var/log/journal
printf '[Journal]\nStorage=volatile\n' > /run/systemd/journald.conf.d/systemdtest.conf
# like nspawn: /sys and /proc/sys read-only; a pure v2 cgroup tree rooted
# at our cgroup (cgroupns)
mount -n -o remount,bind,ro /sys
mount -n -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
mount -n --bind /proc/sys /proc/sys
mount -n -o remount,bind,ro /proc/sys
# a private /dev: the host's console and devtmpfs stay untouched
mount -n -t tmpfs -o mode=755,nosuid tmpfs %[2]s
for n in null zero full random urandom tty; do touch %[2]s/$n; mount -n --bind /dev/$n %[2]s/$n; done
mkdir %[2]s/pts %[2]s/shm
mount -n -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts %[2]s/pts
ln -s pts/ptmx %[2]s/ptmx
mount -n -t tmpfs -o mode=1777,nosuid,nodev tmpfs %[2]s/shm
mount -n --move %[2]s /dev
# container mode: no swapoff, loop or DM detach, no read-only remount of /
export container=systemdtest
# a closed world: only the units installed above, no generators. Debian's
# units must stay out of reach: they act on the host's file system, which
# this mount namespace shares (systemd-tmpfiles-setup empties /tmp).
export SYSTEMD_UNIT_PATH=/run/systemd/system:/run/systemd/transient
export SYSTEMD_GENERATOR_PATH=/run/systemdtest/no-generators
export SYSTEMD_ENVIRONMENT_GENERATOR_PATH=/run/systemdtest/no-generators
exec /lib/systemd/systemd --system --unit=systemdtest.target --log-target=journal --show-status=no
`
