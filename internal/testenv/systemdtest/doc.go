// Package systemdtest boots a real systemd (Debian 12's, v252) as PID 1 of
// throwaway pid, mount, uts, ipc, net and cgroup namespaces, with a
// dbus-daemon system bus, so that tests drive units over D-Bus exactly as
// on a server, although PID 1 of the test machine is not systemd.
//
// How it boots (docs/design.md, "Facts the code relies on"): a host cgroup (v2) becomes the
// namespace's cgroup root; PID 1 mounts a private /run, /dev and cgroup2
// tree, makes /sys and /proc/sys read-only, installs the test's unit files
// in /run/systemd/system and execs systemd in container mode with a
// minimal boot target (journald with a volatile journal, dbus.socket and
// dbus.service). Nothing of the host's systemd, journal, /etc or network
// is touched; the manager is up in about 0.25 s.
//
// Boot registers the teardown with t.Cleanup, which runs also after
// t.Fatal: systemd is powered off (SIGRTMIN+4; SIGKILL when it lingers),
// the namespace's network name and the host cgroup are removed, and the
// journal's tail is logged when the test failed. Should the test binary be
// killed outright, the namespace's processes die with it (PR_SET_PDEATHSIG);
// only an empty cgroup directory systemdtest-* under the cgroup v2 root
// and the name ksd-* under /run/netns can remain.
//
// Tests that use it need root and the Debian packages systemd, dbus (for
// dbus-daemon), util-linux and iproute2; without them Boot skips the test,
// or fails it when the environment variable CI is "true".
package systemdtest
