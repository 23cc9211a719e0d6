//go:build linux

package faults

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/knockc/knockc/examples"
	"github.com/knockc/knockc/internal/testenv/netns"
	"github.com/knockc/knockc/internal/testenv/systemdtest"
)

// sdDir holds the test's files inside the booted systemd's own /run: the
// monitor unit's PrivateTmp= would hide the test's /tmp from it.
const sdDir = "/run/kcm"

// bootServer makes e's server the network namespace of a booted systemd
// that runs a stand-in for Debian's nftables.service (start and reload run
// nft -f on an nftables.conf that begins with flush ruleset) and the
// shipped knockc-monitor.service on spec. The monitor runs as root here
// (User=root): the knockc user and polkit are the privilege test's
// business (examples/privilege_test.go), and the booted systemd shares
// the host's /etc. A managed door's service is a unit, knock-sshd.service.
func (e *env) bootServer(specText string) {
	e.t.Helper()
	unit, err := examples.FS.ReadFile("knockc-monitor.service")
	if err != nil {
		e.t.Fatal(err)
	}
	monitor := strings.NewReplacer(
		"/usr/local/bin/knockc", sdDir+"/knockc",
		"/etc/knockc/knock.toml", sdDir+"/a.toml",
		"User=knockc", "User=root",
		"Group=knockc", "Group=root",
	).Replace(string(unit))
	units := map[string]string{
		// As Debian 12 ships it, with the file in sdDir.
		"nftables.service": "[Unit]\nDescription=nftables\nDefaultDependencies=no\n" +
			"[Service]\nType=oneshot\nRemainAfterExit=yes\nStandardInput=null\n" +
			"ExecStart=/usr/sbin/nft -f " + sdDir + "/nftables.conf\n" +
			"ExecReload=/usr/sbin/nft -f " + sdDir + "/nftables.conf\n" +
			"ExecStop=/usr/sbin/nft flush ruleset\n",
		"knockc-monitor.service": monitor,
	}
	if e.setup.managed {
		units["knock-sshd.service"] = "[Unit]\nDescription=sshd behind a knock\nDefaultDependencies=no\n" +
			"[Service]\nKillMode=process\nRuntimeDirectory=sshd\nExecStart=" +
			strings.Join(append(e.sshd.StartArgv(), "-D", "-e"), " ") + "\n"
	}
	e.sd = systemdtest.Boot(e.t, units)
	root := filepath.Join("/proc", strconv.Itoa(e.sd.PID()), "root", sdDir)
	if err := os.MkdirAll(root, 0o755); err != nil {
		e.t.Fatal(err)
	}
	bin, err := os.ReadFile(knockcBin)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, f := range []struct {
		name, text string
		mode       os.FileMode
	}{
		{"knockc", string(bin), 0o755},
		{"a.toml", specText, 0o644},
		{"nftables.conf", nftablesConf(e.hostFirewall()), 0o644},
	} {
		if err := os.WriteFile(filepath.Join(root, f.name), []byte(f.text), f.mode); err != nil {
			e.t.Fatal(err)
		}
	}
	e.server = netns.Attach(e.t, e.sd.NetNS(), "kcms")
	e.server.Run(e.t, "ip", "link", "set", "lo", "up")
	e.systemctl("start", "nftables.service")
	e.systemctl("start", "knockc-monitor.service") // Type=notify: returns once the monitor is ready
}

// nftablesConf is a stand-in /etc/nftables.conf: Debian's begins with
// flush ruleset, then the host's own firewall.
func nftablesConf(firewall string) string {
	return "#!/usr/sbin/nft -f\nflush ruleset\n\n" + firewall
}

// systemctl runs systemctl in the booted systemd's namespaces and fails
// the test when it fails.
func (e *env) systemctl(args ...string) string {
	e.t.Helper()
	out, err := exec.Command("nsenter", append([]string{"-t", strconv.Itoa(e.sd.PID()), "-a", "--", "systemctl"}, args...)...).CombinedOutput()
	if err != nil {
		e.t.Fatalf("systemctl %s: %v\n%s\nmonitor journal:\n%s", strings.Join(args, " "), err, out, e.monitorLog())
	}
	return string(out)
}

// monitorJournal returns the monitor unit's journal.
func (e *env) monitorJournal() string {
	out, _ := exec.Command("nsenter", "-t", strconv.Itoa(e.sd.PID()), "-a", "--",
		"journalctl", "-D", "/run/log/journal", "--no-pager", "-o", "short-monotonic", "-u", "knockc-monitor.service", "-n", "60").CombinedOutput()
	return string(out)
}
