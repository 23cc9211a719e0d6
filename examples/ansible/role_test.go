//go:build linux

package ansible_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/knockc/knockc/internal/testenv/netns"
	"github.com/knockc/knockc/internal/testenv/systemdtest"
)

// roleHost is a "host" for the role: a booted systemd in namespaces of its
// own. ansible-playbook runs inside its mount, network and PID namespaces
// (nsenter), where /run/systemd/system is the manager's unit directory and
// systemctl reaches it; binary and spec go under root, a directory of the
// manager's own /run.
type roleHost struct {
	m    *systemdtest.Manager
	root string
}

// rolePlay is the play that applies the role with the spec text.
func rolePlay(spec string) string {
	return `- hosts: localhost
  gather_facts: false
  roles:
    - role: knockc
      vars:
        knockc_binary_src: "{{ knockc_bin }}"
        knockc_bin_dir: "{{ root }}/bin"
        knockc_conf_dir: "{{ root }}/etc/knockc"
        knockc_unit_dir: /run/systemd/system
        knockc_monitor_enabled: false
        # root: the manager shares the host's /etc, so a knockc user would be
        # added to the host's /etc/passwd
        knockc_monitor_user: root
        knockc_polkit: true
        knockc_polkit_dir: "{{ root }}/polkit"
        knockc_spec: ` + jsonString(spec) + "\n"
}

// nsenter is the command prefix that runs a program inside the manager's
// namespaces.
func (h *roleHost) nsenter() []string {
	return []string{"nsenter", "-t", strconv.Itoa(h.m.PID()), "-m", "-n", "-p", "--"}
}

// systemctl runs systemctl against the booted systemd.
func (h *roleHost) systemctl(t *testing.T, args ...string) string {
	t.Helper()
	argv := append(h.nsenter(), append([]string{"systemctl"}, args...)...)
	cmd := exec.Command(argv[0], argv[1:]...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Logf("systemctl %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out))
}

func TestAnsibleRole(t *testing.T) {
	netns.RequireRoot(t, "ansible-playbook", "nft", "systemctl", "nsenter")
	systemdtest.RequireTools(t)
	m := systemdtest.Boot(t, nil)
	// The root of the installed files: under the manager's own /run, since
	// the unit's PrivateTmp= and ProtectHome= hide /tmp and /root from it.
	h := &roleHost{m: m, root: "/run/kco-role"}
	ns := netns.Attach(t, m.NetNS(), "kco")
	p := newPlaybook(t, ns, buildKnockc(t))
	p.wrap = h.nsenter()
	p.extra["root"] = h.root
	// The manager's /dev is a directory of the test, not a devtmpfs, and
	// systemd cannot build a PrivateDevices= /dev from it; every other
	// sandbox setting of the unit stays.
	dropIn := filepath.Join("/proc", strconv.Itoa(m.PID()), "root/run/systemd/system/knockc-monitor.service.d")
	if err := os.MkdirAll(dropIn, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dropIn, "test.conf"), []byte("[Service]\nPrivateDevices=no\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A real host has /usr/local/bin; the role does not make it.
	for _, d := range []string{"bin", "polkit"} { // polkitd makes its rules directory
		if err := os.MkdirAll(filepath.Join("/proc", strconv.Itoa(m.PID()), "root", h.root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	spec, err := os.ReadFile("../classic-ssh.toml")
	if err != nil {
		t.Fatal(err)
	}
	classic := string(spec)
	defer func() {
		p.publish("Ansible scenarios: knockc role, ansible-playbook inside a booted systemd's namespaces")
		if t.Failed() {
			if j, err := m.Journal(); err == nil {
				t.Logf("journal:\n%s", j)
			}
		}
	}()

	p.run("role: fresh host", rolePlay(classic))
	p.want(8, 0) // binary, directory, kernel, spec, polkit rule, unit, monitor started, the handler's restart
	rule, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(m.PID()), "root", h.root, "polkit/10-knockc-monitor.rules"))
	if err != nil || !strings.Contains(string(rule), "polkit.addRule") || !strings.Contains(string(rule), "var units = [];") {
		t.Errorf("role: fresh host: polkit rule = %v, %.200q; want knockc render --polkit's rule for no units", err, rule)
	}
	if got := h.systemctl(t, "is-active", "knockc-monitor.service"); got != "active" {
		t.Errorf("role: fresh host: knockc-monitor is %q, want active", got)
	}
	pid := h.systemctl(t, "show", "-P", "MainPID", "knockc-monitor.service")

	p.run("role: rerun", rolePlay(classic))
	p.want(0, 0)
	if r := p.report[len(p.report)-1]; r.commits != 0 {
		t.Errorf("role: rerun: %d nf_tables commits, want 0", r.commits)
	}
	if got := h.systemctl(t, "show", "-P", "MainPID", "knockc-monitor.service"); got != pid {
		t.Errorf("role: rerun: monitor MainPID %s -> %s, want it left alone", pid, got)
	}

	longer := strings.Replace(classic, `open_for = "30s"`, `open_for = "45s"`, 1)
	_, res := p.run("role: spec change", rolePlay(longer))
	p.want(3, 0) // kernel, spec file, the handler's restart
	restarted := false
	for _, task := range res.Tasks {
		if strings.Contains(task.Task, "restart knockc-monitor") && task.Result.Changed {
			restarted = true
		}
	}
	if got := h.systemctl(t, "show", "-P", "MainPID", "knockc-monitor.service"); !restarted || got == pid {
		t.Errorf("role: spec change: handler ran %v, MainPID %s -> %s; want the monitor restarted", restarted, pid, got)
	}
	if got := h.systemctl(t, "is-active", "knockc-monitor.service"); got != "active" {
		t.Errorf("role: spec change: knockc-monitor is %q, want active", got)
	}
}
