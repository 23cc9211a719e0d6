//go:build linux

package logging_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/knockc/knockc/internal/testenv"
	"github.com/knockc/knockc/internal/testenv/netns"
	"github.com/knockc/knockc/internal/testenv/systemdtest"
)

// journalSpec has an unmanaged door (the kernel grants; the monitor logs
// the open with the knocker's address) and a managed one whose unit does
// not exist, so a knocker left pending there is stuck.
const journalSpec = `[door.web]
sequence = ["7100/tcp", "7200/tcp"]
protect  = ["8080/tcp"]
open_for = "30s"

[door.ssh]
sequence = ["7300/tcp", "7400/tcp"]
protect  = ["22/tcp"]
open_for = "30s"
service  = "knockc-missing.service"
`

// journalEntries returns the JSON entries journalctl prints inside the
// manager's mount namespace for the match arguments.
func journalEntries(t *testing.T, m *systemdtest.Manager, args ...string) []map[string]string {
	t.Helper()
	argv := append([]string{"-t", strconv.Itoa(m.PID()), "-m", "--", "journalctl", "-D", "/run/log/journal", "--no-pager", "-o", "json"}, args...)
	out, err := exec.Command("nsenter", argv...).Output()
	if err != nil {
		t.Fatalf("journalctl %s: %v", strings.Join(args, " "), err)
	}
	var entries []map[string]string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		raw := map[string]any{}
		if err := json.Unmarshal(sc.Bytes(), &raw); err != nil {
			t.Fatalf("journalctl -o json line %q: %v", sc.Text(), err)
		}
		e := map[string]string{}
		for k, v := range raw {
			if s, ok := v.(string); ok {
				e[k] = s
			}
		}
		entries = append(entries, e)
	}
	return entries
}

func TestMonitorLogsToTheJournal(t *testing.T) {
	netns.RequireRoot(t, "nft", "nsenter", "journalctl")
	systemdtest.RequireTools(t)
	dir := t.TempDir()
	bin := testenv.BuildKnockc(t, dir, "journal-test")
	spec := filepath.Join(dir, "knock.toml")
	writeFile(t, spec, journalSpec)
	// No --log-format: under systemd stderr is the journal, and "auto"
	// picks native entries.
	unit := fmt.Sprintf("[Service]\nType=notify\nNotifyAccess=main\nExecStart=%s monitor --apply --log-level debug --reconcile 100ms %s\n", bin, spec)
	m := systemdtest.Boot(t, map[string]string{"knockc-monitor.service": unit})
	server := netns.Attach(t, m.NetNS(), "kco")
	client, err := netns.Link(server, netns.New(t, "kco"), 1)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("nsenter", "-t", strconv.Itoa(m.PID()), "-m", "-p", "--", "systemctl", "start", "knockc-monitor.service").CombinedOutput(); err != nil {
		t.Fatalf("systemctl start: %v\n%s", err, out)
	}

	// A knocker on the unmanaged door, and one stuck pending on the
	// managed door while the monitor retries every 100 ms.
	for _, port := range []uint16{7100, 7200} {
		if err := client.KnockTCP(client.ServerV4, port); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	server.Run(t, "nft", "add", "element", "inet", "knockc", "ssh_pending_v4", "{ 198.18.0.9 timeout 30s }")
	// Wait for the open, and for three retries of the stuck start (debug
	// lines, since the unit logs at debug): enough to see repeats.
	deadline := time.Now().Add(20 * time.Second)
	var opened, fails []map[string]string
	repeats := 0
	for time.Now().Before(deadline) {
		opened = journalEntries(t, m, "KNOCKC_DOOR=web", "KNOCKC_EVENT=open")
		fails = journalEntries(t, m, "KNOCKC_DOOR=ssh", "KNOCKC_EVENT=service_fail")
		repeats = 0
		for _, e := range fails {
			if e["PRIORITY"] == "7" {
				repeats++
			}
		}
		if len(opened) > 0 && repeats >= 3 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}

	if len(opened) != 1 {
		t.Fatalf("journalctl KNOCKC_DOOR=web KNOCKC_EVENT=open: %d entries, want 1", len(opened))
	}
	o := opened[0]
	if o["PRIORITY"] != "6" || o["KNOCKC_ADDR"] != client.V4.String() || o["KNOCKC_OPEN_FOR"] != "30s" || o["SYSLOG_IDENTIFIER"] != "knockc" ||
		!strings.HasPrefix(o["MESSAGE"], "door opened door=web event=open addr="+client.V4.String()) {
		t.Errorf("open entry = %v, want PRIORITY 6, the knocker's address, open_for 30s", o)
	}

	// Each distinct error of the stuck start is at error level once (a
	// loaded machine may first time out, then find the unit missing); its
	// repeats are at debug.
	errs := map[string]int{}
	for _, e := range fails {
		if e["PRIORITY"] == "3" {
			errs[e["KNOCKC_ERR"]]++
			if e["KNOCKC_SERVICE"] == "" {
				t.Errorf("service_fail entry without KNOCKC_SERVICE: %v", e)
			}
		}
	}
	if repeats < 3 || len(errs) == 0 {
		t.Errorf("stuck knocker: %d error entries, %d debug repeats within 20 s; want the failure and its repeats", len(errs), repeats)
	}
	for msg, n := range errs {
		if n != 1 {
			t.Errorf("stuck knocker: error %q logged %d times at PRIORITY 3, want once (repeats at debug)", msg, n)
		}
	}
	warnings := journalEntries(t, m, "-p", "warning", "SYSLOG_IDENTIFIER=knockc")
	var pris []string
	for _, e := range warnings {
		pris = append(pris, e["PRIORITY"]+" "+e["MESSAGE"])
		if p, _ := strconv.Atoi(e["PRIORITY"]); p > 4 {
			t.Errorf("journalctl -p warning shows PRIORITY %d: %s", p, e["MESSAGE"])
		}
	}
	if len(warnings) < 2 {
		t.Errorf("journalctl -p warning = %q, want the missing unit's warning and the failed start", pris)
	}
	t.Logf("journalctl -p warning SYSLOG_IDENTIFIER=knockc:\n%s", strings.Join(pris, "\n"))
}
