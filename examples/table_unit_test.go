//go:build linux

package examples

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/knockc/knockc/internal/testenv"
	"github.com/knockc/knockc/internal/testenv/systemdtest"
)

// knockc-table.service follows a stand-in nftables.service that flushes
// the whole ruleset like Debian's (/etc/nftables.conf begins with `flush
// ruleset`) on start, restart and reload, in a booted systemd: after each,
// knockc's table is back, marked, and its plan is clean.
func TestIntegrationTableUnitFollowsNftables(t *testing.T) {
	testenv.RequireRoot(t, "nft", "nsenter")
	unit, err := FS.ReadFile("knockc-table.service")
	if err != nil {
		t.Fatal(err)
	}
	bin := testenv.BuildKnockc(t, t.TempDir(), "table-unit-test")
	const dir = "/run/kcf-table"
	tableUnit := strings.NewReplacer(
		"/usr/local/bin/knockc", dir+"/knockc",
		"/etc/knockc/knock.toml", dir+"/knock.toml",
	).Replace(string(unit))
	m := systemdtest.Boot(t, map[string]string{
		"nftables.service": "[Unit]\nDescription=nftables\nDefaultDependencies=no\n" +
			"[Service]\nType=oneshot\nRemainAfterExit=yes\nStandardInput=null\n" +
			"ExecStart=/usr/sbin/nft -f " + dir + "/nftables.conf\n" +
			"ExecReload=/usr/sbin/nft -f " + dir + "/nftables.conf\n" +
			"ExecStop=/usr/sbin/nft flush ruleset\n",
		"knockc-table.service": tableUnit,
	})
	host := filepath.Join("/proc", strconv.Itoa(m.PID()), "root", dir)
	if err := os.MkdirAll(host, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(host, "knockc"), string(data), 0o755)
	writeFile(t, filepath.Join(host, "knock.toml"), "[door.ssh]\nsequence = [\"7000/tcp\", \"8000/tcp\", \"9000/tcp\"]\nprotect = [\"22/tcp\"]\n", 0o644)
	writeFile(t, filepath.Join(host, "nftables.conf"), "flush ruleset\ntable inet filter {\n\tchain input { type filter hook input priority 0; policy accept; }\n}\n", 0o644)

	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("nsenter", append([]string{"-t", strconv.Itoa(m.PID()), "-a", "--"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	wantTable := func(after string) {
		t.Helper()
		// The unit runs after nftables.service's job; give systemd a moment.
		deadline := time.Now().Add(10 * time.Second)
		for {
			out, _ := exec.Command("nsenter", "-t", strconv.Itoa(m.PID()), "-a", "--", dir+"/knockc", "plan", "--detailed-exitcode", dir+"/knock.toml").CombinedOutput()
			if strings.Contains(string(out), "No changes.") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after %s: knockc's table is not back:\n%s\n%s", after, out, run("systemctl", "status", "--no-pager", "knockc-table.service"))
			}
			time.Sleep(50 * time.Millisecond)
		}
		if list := run("nft", "list", "ruleset"); !strings.Contains(list, "table inet filter") || !strings.Contains(list, "chain knockc_owner") {
			t.Fatalf("after %s: the ruleset lacks the host table or knockc's marked table:\n%s", after, list)
		}
	}
	run("systemctl", "start", "nftables.service")
	run("systemctl", "start", "knockc-table.service")
	wantTable("start")
	for _, verb := range []string{"restart", "reload"} {
		run("systemctl", verb, "nftables.service")
		wantTable("systemctl " + verb + " nftables")
	}
	// A stop of the firewall stops the unit with it (PartOf=); a start of
	// the firewall brings it back (WantedBy=nftables.service once enabled).
	run("systemctl", "enable", "--runtime", "knockc-table.service") // --runtime: /run is the namespace's own, /etc the host's
	run("systemctl", "stop", "nftables.service")
	run("systemctl", "start", "nftables.service")
	wantTable("stop and start of nftables")
}
