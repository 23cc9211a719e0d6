//go:build linux

package examples

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/knockc/knockc/internal/testenv"
	"github.com/knockc/knockc/internal/testenv/netns"
	"github.com/knockc/knockc/internal/testenv/sshdtest"
	"github.com/knockc/knockc/internal/testenv/systemdtest"
)

// capNetAdmin is CAP_NET_ADMIN (12) as a capability mask of
// /proc/PID/status.
const capNetAdmin = "0000000000001000"

// privEnv is a booted systemd with polkitd, the shipped monitor unit
// running as its own user, and a client namespace to knock from.
type privEnv struct {
	t      *testing.T
	m      *systemdtest.Manager
	dir    string // the test's files inside the manager's /run
	uid    int    // the monitor's user, knockc
	client *netns.Client
}

// The shipped monitor unit and polkit rule in a real systemd with a real
// polkitd: the monitor runs as user knockc with CAP_NET_ADMIN and nothing
// else; a knock makes it start its door's unit and the close sequence
// makes it stop it; as that user, with the same capabilities, starting or
// stopping any other unit, another verb on its own unit, and
// StartTransientUnit are refused, where root with the same capabilities
// may start a transient unit.
func TestIntegrationMonitorLeastPrivilege(t *testing.T) {
	testenv.RequireRoot(t, "nft", "sshd", "ssh-keygen", "busctl", "setpriv", "nsenter")
	if _, err := os.Stat("/usr/lib/polkit-1/polkitd"); err != nil {
		testenv.Unavailable(t, "needs polkitd (Debian package polkitd): %v", err)
	}
	e := newPrivEnv(t)

	// The monitor's process: its user and its capabilities.
	status := e.inNS(t, "sh", "-c", "cat /proc/$(systemctl show -P MainPID knockc-monitor.service)/status")
	for _, want := range []string{
		fmt.Sprintf("Uid:\t%d\t%d\t%d\t%d", e.uid, e.uid, e.uid, e.uid),
		"CapEff:\t" + capNetAdmin, "CapPrm:\t" + capNetAdmin,
		"CapBnd:\t" + capNetAdmin, "CapAmb:\t" + capNetAdmin,
		"NoNewPrivs:\t1",
	} {
		if !strings.Contains(status, want+"\n") {
			t.Errorf("the monitor's /proc/PID/status lacks %q:\n%s", want, status)
		}
	}

	// Its door: the knock starts the unit, the close sequence stops it.
	if s := e.state("knock-sshd.service"); s != "inactive" {
		t.Fatalf("knock-sshd.service is %s before any knock, want inactive", s)
	}
	e.knock(7000, 8000, 9000)
	if got := e.client.Connect(e.client.ServerV4, 22, 5*time.Second); got != netns.Open {
		t.Fatalf("connect to 22 after the knock = %s, want open\nmonitor journal:\n%s", got, e.journal("knockc-monitor.service"))
	}
	e.waitState("knock-sshd.service", "active")
	e.knock(9000, 8000, 7000)
	e.waitState("knock-sshd.service", "inactive")

	// Everything else, asked as the monitor's user with its capabilities.
	const mgr = "org.freedesktop.systemd1 /org/freedesktop/systemd1 org.freedesktop.systemd1.Manager"
	for _, tc := range []struct {
		name    string
		call    string
		allowed bool
	}{
		{"start its own unit", "StartUnit ss knock-sshd.service replace", true},
		{"stop its own unit", "StopUnit ss knock-sshd.service replace", true},
		{"restart its own unit", "RestartUnit ss knock-sshd.service replace", false},
		{"start another unit", "StartUnit ss other.service replace", false},
		{"stop another unit", "StopUnit ss dbus.service replace", false},
		{"start a transient unit", `StartTransientUnit ssa(sv)a(sa(sv)) evil.service replace 1 ExecStart a(sasb) 1 /bin/sh 3 /bin/sh -c "id > /run/evil" false 0`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			argv := append([]string{"busctl", "--", "call"}, strings.Fields(mgr)...)
			out, err := e.asMonitorUser(append(argv, splitCall(tc.call)...)...)
			switch {
			case tc.allowed && err != nil:
				t.Errorf("busctl call %s as knockc = %v, want allowed:\n%s", tc.call, err, out)
			case !tc.allowed && err == nil:
				t.Errorf("busctl call %s as knockc succeeded, want refused:\n%s", tc.call, out)
			case !tc.allowed && !strings.Contains(out, "Access denied"):
				t.Errorf("busctl call %s as knockc failed for another reason than a refusal:\n%s", tc.call, out)
			}
		})
	}
	// The control: as root with the same capabilities (the unit without
	// User=), systemd trusts the caller's uid and runs the same transient
	// unit; only the user makes the difference, and the call is well formed.
	argv := append([]string{"setpriv", "--inh-caps=-all,+net_admin", "--ambient-caps=-all,+net_admin", "--bounding-set=-all,+net_admin",
		"--no-new-privs", "--", "busctl", "--", "call"}, strings.Fields(mgr)...)
	argv = append(argv, splitCall(`StartTransientUnit ssa(sv)a(sa(sv)) root-control.service replace 1 ExecStart a(sasb) 1 /bin/true 1 /bin/true false 0`)...)
	if out, err := e.nsenter(argv...).CombinedOutput(); err != nil {
		t.Errorf("StartTransientUnit as root with CAP_NET_ADMIN only = %v, want it allowed (systemd trusts uid 0):\n%s", err, out)
	}

	e.waitState("knock-sshd.service", "inactive")
	if s := e.state("other.service"); s != "inactive" {
		t.Errorf("other.service is %s, want inactive", s)
	}
	if s := e.state("dbus.service"); s != "active" {
		t.Errorf("dbus.service is %s, want active", s)
	}
	if load := e.inNSOut("systemctl", "show", "-P", "LoadState", "evil.service"); load != "not-found" {
		t.Errorf("evil.service LoadState = %q, want not-found: no transient unit", load)
	}
	if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(e.m.PID()), "root/run/evil")); err == nil {
		t.Errorf("/run/evil exists: the transient unit ran")
	}
}

// splitCall splits a busctl argument list on spaces, keeping "quoted
// words" whole.
func splitCall(s string) []string {
	var out []string
	for i, part := range strings.Split(s, `"`) {
		if i%2 == 1 {
			out = append(out, part)
			continue
		}
		out = append(out, strings.Fields(part)...)
	}
	return out
}

// newPrivEnv boots systemd with polkit, the door's unit, a unit the
// monitor must not touch, and the shipped monitor unit; gives the
// namespace a knockc user and the shipped polkit rule (in its own mount
// namespace: the host's /etc is not touched); starts polkitd and the
// monitor, and links a client namespace.
func newPrivEnv(t *testing.T) *privEnv {
	t.Helper()
	bin := testenv.BuildKnockc(t, t.TempDir(), "privilege-test")
	sshd := sshdtest.New(t, 22)
	unit, err := FS.ReadFile("knockc-monitor.service")
	if err != nil {
		t.Fatal(err)
	}
	const dir = "/run/knockc-test"
	monitorUnit := strings.NewReplacer(
		"/usr/local/bin/knockc", dir+"/knockc",
		"/etc/knockc/knock.toml", dir+"/knock.toml",
	).Replace(string(unit))
	m := systemdtest.Boot(t, map[string]string{
		"polkit.service": "[Unit]\nDescription=Authorization Manager\nDefaultDependencies=no\n" +
			"[Service]\nType=dbus\nBusName=org.freedesktop.PolicyKit1\nExecStart=/usr/lib/polkit-1/polkitd --no-debug\n",
		"knock-sshd.service": "[Unit]\nDescription=sshd behind a knock\nDefaultDependencies=no\n" +
			"[Service]\nKillMode=process\nRuntimeDirectory=sshd\nExecStart=" + strings.Join(append(sshd.StartArgv(), "-D", "-e"), " ") + "\n",
		"other.service":          "[Unit]\nDescription=a unit the monitor must not touch\nDefaultDependencies=no\n[Service]\nExecStart=/bin/sleep infinity\n",
		"knockc-monitor.service": monitorUnit,
	})
	e := &privEnv{t: t, m: m, dir: dir}

	// The knockc user, in a copy of /etc/passwd and /etc/group bound over
	// the real ones in the manager's mount namespace only.
	e.uid = freeID(t)
	root := filepath.Join("/proc", strconv.Itoa(m.PID()), "root")
	host := filepath.Join(root, dir)
	if err := os.MkdirAll(filepath.Join(host, "rules.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct{ name, line string }{
		{"passwd", fmt.Sprintf("knockc:x:%d:%d:knockc monitor:/nonexistent:/usr/sbin/nologin\n", e.uid, e.uid)},
		{"group", fmt.Sprintf("knockc:x:%d:\n", e.uid)},
	} {
		orig, err := os.ReadFile("/etc/" + f.name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(host, f.name), append(orig, f.line...), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(host, "knockc"), string(data), 0o755)
	spec := filepath.Join(host, "knock.toml")
	writeFile(t, spec, `[door.ssh]
sequence       = ["7000/tcp", "8000/tcp", "9000/tcp"]
close_sequence = ["9000/tcp", "8000/tcp", "7000/tcp"]
protect        = ["22/tcp"]
service        = "knock-sshd.service"
`, 0o644)
	// The rule as the README has the operator make it: from the spec.
	rule, err := exec.Command(bin, "render", "--polkit", spec).Output()
	if err != nil {
		t.Fatalf("knockc render --polkit: %v", err)
	}
	if !strings.Contains(string(rule), `var units = ["knock-sshd.service"];`) {
		t.Fatalf("knockc render --polkit does not list knock-sshd.service:\n%s", rule)
	}
	writeFile(t, filepath.Join(host, "rules.d", PolkitRuleFile), string(rule), 0o644)
	e.inNS(t, "mount", "--bind", dir+"/passwd", "/etc/passwd")
	e.inNS(t, "mount", "--bind", dir+"/group", "/etc/group")
	e.inNS(t, "mount", "--bind", dir+"/rules.d", "/etc/polkit-1/rules.d")

	e.inNS(t, "systemctl", "start", "polkit.service")
	e.inNS(t, "systemctl", "start", "knockc-monitor.service")
	if s := e.state("knockc-monitor.service"); s != "active" {
		t.Fatalf("knockc-monitor.service is %s after start, want active\njournal:\n%s", s, e.journal("knockc-monitor.service"))
	}

	server := netns.Attach(t, m.NetNS(), "kcmp")
	server.Run(t, "ip", "link", "set", "lo", "up")
	client, err := netns.Create("kcmp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Remove() })
	if e.client, err = netns.Link(server, client, 1); err != nil {
		t.Fatal(err)
	}
	return e
}

func writeFile(t *testing.T, path, text string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
}

// freeID returns a user and group id that the host's /etc/passwd and
// /etc/group do not use.
func freeID(t *testing.T) int {
	t.Helper()
	for id := 64100; id < 65000; id++ {
		s := strconv.Itoa(id)
		_, uerr := user.LookupId(s)
		_, gerr := user.LookupGroupId(s)
		if uerr != nil && gerr != nil {
			return id
		}
	}
	t.Fatal("no free user id in 64100-64999")
	return 0
}

// nsenter returns the command that runs argv in all of the manager's
// namespaces.
func (e *privEnv) nsenter(argv ...string) *exec.Cmd {
	return exec.Command("nsenter", append([]string{"-t", strconv.Itoa(e.m.PID()), "-a", "--"}, argv...)...)
}

// inNS runs argv in the manager's namespaces as root and returns its
// output; it fails the test when argv fails.
func (e *privEnv) inNS(t *testing.T, argv ...string) string {
	t.Helper()
	out, err := e.nsenter(argv...).CombinedOutput()
	if err != nil {
		t.Fatalf("in the manager's namespaces: %s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return string(out)
}

// inNSOut is inNS that returns the trimmed output whatever the exit code.
func (e *privEnv) inNSOut(argv ...string) string {
	out, _ := e.nsenter(argv...).CombinedOutput()
	return strings.TrimSpace(string(out))
}

// asMonitorUser runs argv in the manager's namespaces as the monitor's
// user, with exactly the capabilities its unit grants (CAP_NET_ADMIN, also
// as the bounding set) and no_new_privs, as the monitor itself would.
func (e *privEnv) asMonitorUser(argv ...string) (string, error) {
	id := strconv.Itoa(e.uid)
	cmd := e.nsenter(append([]string{"setpriv", "--reuid=" + id, "--regid=" + id, "--clear-groups",
		"--inh-caps=-all,+net_admin", "--ambient-caps=-all,+net_admin", "--bounding-set=-all,+net_admin",
		"--no-new-privs", "--"}, argv...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (e *privEnv) state(unit string) string {
	return e.inNSOut("systemctl", "show", "-P", "ActiveState", unit)
}

func (e *privEnv) waitState(unit, want string) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := e.state(unit)
		if s == want {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s is %s, want %s\nmonitor journal:\n%s", unit, s, want, e.journal("knockc-monitor.service"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (e *privEnv) journal(unit string) string {
	return e.inNSOut("journalctl", "-D", "/run/log/journal", "--no-pager", "-u", unit, "-n", "40")
}

func (e *privEnv) knock(ports ...uint16) {
	e.t.Helper()
	for _, p := range ports {
		if err := e.client.KnockTCP(e.client.ServerV4, p); err != nil {
			e.t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
