//go:build linux

package knockdconf_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/internal/sandbox"
	"github.com/knockc/knockc/internal/testenv"
	"github.com/knockc/knockc/internal/testenv/netns"
	"github.com/knockc/knockc/internal/testenv/sshdtest"
	"github.com/knockc/knockc/internal/testenv/systemdtest"
	"github.com/knockc/knockc/ruleset"
)

// knockcBin is the knockc binary built once for these tests: the corpus
// goes through the commands a user runs.
var knockcBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "knockc-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	knockcBin = filepath.Join(dir, "knockc")
	if out, err := exec.Command("go", "build", "-o", knockcBin, "../../cmd/knockc").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build knockc: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// row is one configuration's line of the corpus table.
type row struct {
	file                                    string
	imp, check, apply, open, close, service string
	errs                                    []string
}

func (r *row) fail(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// corpusRun is one configuration prepared for the kernel part of the test.
type corpusRun struct {
	file    string
	spec    *compiler.Spec // as imported; nil when no door translated
	text    []byte         // the spec applied: open_for shortened, service made argv
	sshd    *sshdtest.Server
	systemd *systemdtest.Manager // the seed's: its ssh.service over D-Bus
	row     *row
}

// workers bounds the configurations run at once (2 cores, each run mostly
// waits on the kernel and on timeouts).
const workers = 6

// shortOpenFor replaces open_for in doors without a close sequence, so
// that the test sees the grant end by itself without waiting minutes.
const shortOpenFor = 2 * time.Second

// Every real knockd.conf of testdata/corpus, and the configurations of our
// own in testdata/heldout, end to end in namespaces: knockc import, knockc
// check, knockc apply; each door knocked with knockd's own knock client;
// its protected ports open for the knocker only (a second client stays
// refused); the close sequence, or open_for, closes them again; a door
// with a service has the monitor start and stop it: the seed's over D-Bus
// in a booted systemd (a real ssh.service), the others as argv (a real
// sshd). A configuration that translates to no door must exit 3 with
// every door commented and a message per line. The table goes to the log.
func TestIntegrationCorpus(t *testing.T) {
	netns.RequireRoot(t, "ip", "nft", "knock", "sshd", "ssh-keygen")
	start := time.Now()
	files, _ := filepath.Glob("testdata/corpus/*.conf")
	held, _ := filepath.Glob("testdata/heldout/*.conf")
	if len(files) < 30 {
		t.Fatalf("testdata/corpus holds %d configurations, want at least 30", len(files))
	}
	var runs []*corpusRun
	for _, f := range append(files, held...) {
		runs = append(runs, prepare(t, f))
	}

	var wg sync.WaitGroup
	sem := make(chan struct{}, workers)
	for _, r := range runs {
		if r.spec == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			r.kernel()
		}()
	}
	wg.Wait()

	var table strings.Builder
	fmt.Fprintf(&table, "%-44s %-10s %-6s %-6s %-8s %-10s %s\n", "file", "import", "check", "apply", "open", "close", "service")
	working, tokens := map[bool]int{}, 0
	for _, r := range runs {
		w := r.row
		fmt.Fprintf(&table, "%-44s %-10s %-6s %-6s %-8s %-10s %s\n", w.file, w.imp, w.check, w.apply, w.open, w.close, w.service)
		for _, e := range w.errs {
			t.Errorf("%s: %s", w.file, e)
		}
		switch {
		case r.spec == nil || len(w.errs) > 0:
		case w.check == "token door":
			tokens++
		default:
			working[strings.HasPrefix(r.file, "testdata/corpus/")]++
		}
	}
	summary := fmt.Sprintf("corpus: %d of %d real configurations and %d of our %d became working doors with no hand edit; %d with one_time_sequences became working token doors once uncommented and keyed as the import says; the others exit 3 with every line reported; %s\n%s",
		working[true], len(files), working[false], len(held), tokens, time.Since(start).Round(100*time.Millisecond), table.String())
	t.Log(summary)
	if dir := os.Getenv("KNOCKC_REPORT_DIR"); dir != "" {
		text := "\nknockd.conf corpus (internal/knockdconf, docs/import.md), " + summary
		if err := os.WriteFile(filepath.Join(dir, "import-corpus.txt"), []byte(text), 0o644); err != nil {
			t.Errorf("write the corpus table to KNOCKC_REPORT_DIR: %v", err)
		}
	}
}

// prepare imports and checks one configuration (in the test's goroutine:
// it may boot systemd or make sshd keys) and readies its spec for the
// kernel part.
func prepare(t *testing.T, file string) *corpusRun {
	t.Helper()
	r := &corpusRun{file: file, row: &row{file: strings.TrimPrefix(file, "testdata/")}}
	w := r.row
	w.imp, w.check, w.apply, w.open, w.close, w.service = "-", "-", "-", "-", "-", "-"
	spec, stderr, code := knockc("import", file)
	switch {
	case code == 0:
		w.imp = "0"
	case code == 3:
		w.imp = "3"
	default:
		w.imp = fmt.Sprint(code)
		w.fail("knockc import exits %d, want 0 or 3:\n%s", code, stderr)
		return r
	}
	path := filepath.Join(t.TempDir(), "knock.toml")
	if err := os.WriteFile(path, spec, 0o644); err != nil {
		t.Fatal(err)
	}
	parsed, perr := compiler.Parse(path, spec)
	out, checkErr, code := knockc("check", path)
	switch {
	case bytes.Contains(spec, []byte("\n[door.")):
		if code != 0 || perr != nil {
			w.check = "FAIL"
			w.fail("knockc check of the imported spec exits %d (%v):\n%s", code, perr, out)
			return r
		}
		w.check = "ok"
	default:
		// No door translated: import must say so (exit 3), write every
		// door commented, name each line it could not translate, and
		// still write a spec that checks (with a "no doors" warning).
		w.check = "no door"
		w.imp += fmt.Sprintf(" (%d msgs)", strings.Count(string(stderr), "\n")-1)
		if code != 0 || !strings.Contains(string(checkErr), "no doors") || w.imp[0] != '3' || !strings.Contains(string(stderr), "no door of") {
			w.fail("a configuration with no translatable door: import exit %s, check exit %d (%s), stderr:\n%s", w.imp, code, checkErr, stderr)
		}
		if !bytes.Contains(spec, []byte("# [door.")) && !strings.Contains(string(stderr), "nothing to translate") {
			w.fail("no door, and none written out commented:\n%s", spec)
		}
		if !bytes.Contains(spec, []byte(".token]")) {
			return r
		}
		// one_time_sequences: the token door written out commented,
		// finished as its message says (uncommented, knockc keygen),
		// must work end to end with knockc knock --key.
		var err error
		if spec, err = finishTokenDoor(t, spec, filepath.Dir(path)); err != nil {
			w.fail("the token door does not finish as the message says: %v", err)
			return r
		}
		if parsed, perr = compiler.Parse(path, spec); perr != nil {
			w.fail("the finished token door does not load: %v\n%s", perr, spec)
			return r
		}
		w.check = "token door"
	}
	r.spec = parsed
	w.imp += fmt.Sprintf(" (%d %s)", len(parsed.Doors), map[bool]string{true: "door", false: "doors"}[len(parsed.Doors) == 1])
	r.text = testSpec(parsed, spec)
	for _, d := range parsed.Doors {
		switch {
		case d.Service == "ssh.service" && strings.HasSuffix(file, "/seed.conf"):
			// The seed's best practice exactly: ssh.service in a real
			// systemd, reached over D-Bus; the spec is left as imported.
			r.sshd = sshdtest.New(t, 22)
			argv := append(r.sshd.StartArgv(), "-D", "-e")
			unit := "[Unit]\nDescription=OpenSSH server, as Debian's ssh.service\nDefaultDependencies=no\n[Service]\nKillMode=process\nRuntimeDirectory=sshd\nExecStart=" + strings.Join(argv, " ") + "\n"
			r.systemd = systemdtest.Boot(t, map[string]string{"ssh.service": unit})
		case d.Managed():
			r.sshd = sshdtest.New(t, d.Protect[0].Port)
			r.text = argvService(r.text, d.Name, r.sshd)
		}
	}
	tpath := path + ".test.toml"
	if err := os.WriteFile(tpath, r.text, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, _, code := knockc("check", tpath); code != 0 {
		w.fail("the test's copy of the spec does not check:\n%s\n%s", out, r.text)
		r.spec = nil
		return r
	}
	if r.spec, perr = compiler.Parse(tpath, r.text); perr != nil {
		t.Fatal(perr)
	}
	r.text = []byte(tpath) // from here on, the path of the copy
	return r
}

// finishTokenDoor does what import tells the user for a door written for
// one_time_sequences: uncomment it (its key file in dir), and make the key
// with knockc keygen. It returns the finished spec.
func finishTokenDoor(t *testing.T, spec []byte, dir string) ([]byte, error) {
	var out bytes.Buffer
	on := false
	door := ""
	for _, line := range strings.Split(string(spec), "\n") {
		switch {
		case strings.HasPrefix(line, "# [door.") && !strings.Contains(line, ".token"):
			on = true
			door = strings.TrimSuffix(strings.TrimPrefix(line, "# [door."), "]")
		case line == "":
			on = false
		}
		if on {
			line = strings.TrimPrefix(line, "# ")
			line = strings.Replace(line, `"/etc/knockc/`, `"`+dir+"/", 1)
		}
		if !on && strings.HasPrefix(line, "[table]") || on {
			out.WriteString(line + "\n")
		}
	}
	path := filepath.Join(dir, "token.toml")
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		return nil, err
	}
	if o, e, code := knockc("keygen", door, "me", "--spec", path); code != 0 {
		return nil, fmt.Errorf("knockc keygen %s me: exit %d: %s%s", door, code, o, e)
	}
	if o, _, code := knockc("check", path); code != 0 {
		return nil, fmt.Errorf("knockc check of the finished token door: %s", o)
	}
	return out.Bytes(), nil
}

// knockc runs the knockc binary and returns its stdout, stderr and exit
// code.
func knockc(args ...string) (stdout, stderr []byte, code int) {
	var o, e bytes.Buffer
	cmd := exec.Command(knockcBin, args...)
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		code = -1
		e.WriteString(err.Error())
	}
	return o.Bytes(), e.Bytes(), code
}

var (
	doorHeader = regexp.MustCompile(`^\[door\.([a-z0-9_]+)\]`)
	openForKey = regexp.MustCompile(`^open_for(\s*)= "[^"]*"`)
	serviceKey = regexp.MustCompile(`^service(\s*)= "[^"]*"`)
)

// testSpec returns the spec with open_for shortened in doors that have no
// close sequence (their grant must end by itself within the test).
func testSpec(s *compiler.Spec, text []byte) []byte {
	noClose := map[string]bool{}
	for _, d := range s.Doors {
		noClose[d.Name] = len(d.CloseSequence) == 0
	}
	var out bytes.Buffer
	door := ""
	for _, line := range strings.SplitAfter(string(text), "\n") {
		if m := doorHeader.FindStringSubmatch(line); m != nil {
			door = m[1]
		}
		if noClose[door] && openForKey.MatchString(line) {
			line = openForKey.ReplaceAllString(line, fmt.Sprintf(`open_for$1= %q`, shortOpenFor))
		}
		out.WriteString(line)
	}
	return out.Bytes()
}

// argvService replaces door's service = "X.service" by a real sshd started
// and stopped as argv by the monitor.
func argvService(text []byte, door string, sshd *sshdtest.Server) []byte {
	var out bytes.Buffer
	cur := ""
	for _, line := range strings.SplitAfter(string(text), "\n") {
		if m := doorHeader.FindStringSubmatch(line); m != nil {
			cur = m[1]
		}
		if cur == door && serviceKey.MatchString(line) {
			line = fmt.Sprintf("start_command = %s\nstop_command = %s\n", tomlList(sshd.StartArgv()), tomlList(sshd.StopArgv()))
		}
		out.WriteString(line)
	}
	return out.Bytes()
}

func tomlList(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = fmt.Sprintf("%q", a)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// kernel applies the spec in fresh namespaces and walks every door.
func (r *corpusRun) kernel() {
	w := r.row
	specPath := string(r.text)
	var server *netns.NS
	var cleanup []func()
	defer func() {
		for i := len(cleanup) - 1; i >= 0; i-- {
			cleanup[i]()
		}
	}()
	if r.systemd != nil {
		n, err := sandbox.Attach(r.systemd.NetNS(), "kcisd")
		if err != nil {
			w.fail("attach systemd's namespace: %v", err)
			return
		}
		cleanup = append(cleanup, n.Close)
		server = &netns.NS{NS: n}
		if _, err := server.Exec("ip", "link", "set", "lo", "up"); err != nil {
			w.fail("%v", err)
			return
		}
	} else {
		n, err := netns.Create("kcis")
		if err != nil {
			w.fail("%v", err)
			return
		}
		cleanup = append(cleanup, func() { n.Remove() })
		server = n
	}
	var clients [2]*netns.Client
	for i, prefix := range []string{"kcic", "kcix"} {
		n, err := netns.Create(prefix)
		if err != nil {
			w.fail("%v", err)
			return
		}
		cleanup = append(cleanup, func() { n.Remove() })
		if clients[i], err = netns.Link(server, n, i+1); err != nil {
			w.fail("%v", err)
			return
		}
	}
	// knockd listened on one interface, and so does the spec ([table]
	// interfaces): the knocker's link gets that name, as the host's NIC
	// would have it.
	if ifs := r.spec.Table.Interfaces; len(ifs) > 0 {
		if err := rename(server, clients[0].ServerIf, ifs[0]); err != nil {
			w.fail("%v", err)
			return
		}
	}
	out, stderr, code := knockc("apply", "--netns", server.Name, specPath)
	if code != 0 {
		w.apply = "FAIL"
		w.fail("knockc apply exits %d:\n%s%s", code, out, stderr)
		return
	}
	w.apply = "ok"

	var mon *exec.Cmd
	var monOut testenv.Buffer
	managed := false
	for _, d := range r.spec.Doors {
		managed = managed || d.Managed()
	}
	if managed {
		mon = exec.Command("ip", "netns", "exec", server.Name, knockcBin, "monitor", "--reconcile", "500ms", "--log-format", "json", specPath)
		if r.systemd != nil {
			mon.Env = append(os.Environ(), "DBUS_SYSTEM_BUS_ADDRESS="+r.systemd.BusAddress())
		}
		mon.Stdout, mon.Stderr = &monOut, &monOut
		mon.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := mon.Start(); err != nil {
			w.fail("start monitor: %v", err)
			return
		}
		cleanup = append(cleanup, func() {
			_ = syscall.Kill(-mon.Process.Pid, syscall.SIGTERM)
			_ = mon.Wait()
		})
		if !waitUntil(10*time.Second, func() bool { return strings.Contains(monOut.String(), `"monitor ready"`) }) {
			w.fail("the monitor did not get ready:\n%s", monOut.String())
			return
		}
	}

	var opens, closes, services []string
	for _, d := range r.spec.Doors {
		var o, c, s string
		for _, fam := range []ruleset.Family{ruleset.IPv4, ruleset.IPv6} {
			if !d.HasFamily(fam) {
				continue
			}
			fo, fc, fs := r.door(d, fam, server, clients, &monOut)
			if o != "" {
				fo, fc, fs = "/"+fo, "/"+fc, "/"+fs
			}
			o, c, s = o+fo, c+fc, s+fs
			if strings.Contains(fo+fc+fs, "FAIL") {
				break
			}
		}
		opens, closes, services = append(opens, o), append(closes, c), append(services, s)
	}
	w.open, w.close, w.service = strings.Join(opens, ","), strings.Join(closes, ","), strings.Join(services, ",")
}

// door knocks one door and checks that it opens for the knocker only and
// closes again; it returns the open, close and service cells.
func (r *corpusRun) door(d *compiler.Door, fam ruleset.Family, server *netns.NS, clients [2]*netns.Client, monOut *testenv.Buffer) (open, closed, service string) {
	w := r.row
	c, other := clients[0], clients[1]
	dst, otherDst := c.ServerV4, other.ServerV4
	if fam == ruleset.IPv6 {
		dst, otherDst = c.ServerV6, other.ServerV6
	}
	ports := d.Protect
	if !d.Managed() {
		for _, p := range ports {
			if err := listen(server, p); err != nil {
				w.fail("door %q: %v", d.Name, err)
				return "FAIL", "-", "-"
			}
		}
	}
	running := func() bool {
		if r.systemd != nil {
			return unitActive(r.systemd, "ssh.service")
		}
		return r.sshd != nil && r.sshd.Running()
	}
	service = "-"
	if d.Managed() && running() {
		w.fail("door %q: its service runs before any knock", d.Name)
	}
	for _, p := range ports {
		if reach(c, dst, p) {
			w.fail("door %q: %s opens before the knock", d.Name, p)
			return "FAIL", "-", service
		}
	}
	how, err := "", error(nil)
	if d.Token != nil {
		how, err = knockToken(c, dst, d)
	} else {
		how, err = knockSequence(c, dst, d.Sequence, d.TCPFlags)
	}
	if err != nil {
		w.fail("door %q: knock: %v", d.Name, err)
		return "FAIL", "-", service
	}
	for _, p := range ports {
		if d.Managed() && p.Proto == ruleset.TCP {
			// One plain connect: the SYN is held while the monitor starts
			// the service, and the SSH banner comes back.
			banner, err := sshBanner(c, dst, p.Port)
			if err != nil {
				w.fail("door %q: after the knock (%s), one connect to %s: %v\nmonitor log:\n%s", d.Name, how, p, err, monOut.String())
				return "FAIL", "-", service
			}
			if !strings.HasPrefix(banner, "SSH-2.0-") {
				w.fail("door %q: banner %q", d.Name, banner)
			}
		} else if !waitUntil(3*time.Second, func() bool { return reach(c, dst, p) }) {
			w.fail("door %q: %s does not open after the knock (%s)", d.Name, p, how)
			return "FAIL", "-", service
		}
		if reach(other, otherDst, p) {
			w.fail("door %q: %s opens for a client that did not knock", d.Name, p)
			return "FAIL", "-", service
		}
		// A door of one family keeps the port shut over the other, for
		// the knocker too: nothing is left to the host firewall.
		if !d.HasFamily(ruleset.IPv6) && (reach(c, c.ServerV6, p) || reach(other, other.ServerV6, p)) {
			w.fail("door %q (IPv4 only): %s opens over IPv6", d.Name, p)
			return "FAIL", "-", service
		}
		if !d.HasFamily(ruleset.IPv4) && (reach(c, c.ServerV4, p) || reach(other, other.ServerV4, p)) {
			w.fail("door %q (IPv6 only): %s opens over IPv4", d.Name, p)
			return "FAIL", "-", service
		}
	}
	open = "ok " + how
	if fam == ruleset.IPv6 {
		open += " v6"
	}
	if d.Managed() {
		if !running() {
			w.fail("door %q: the service does not run after the knock", d.Name)
		}
		service = "started"
		if r.systemd != nil {
			service = "ssh.service started (D-Bus)"
		}
	}
	closedNow := func() bool {
		for _, p := range ports {
			if reach(c, dst, p) {
				return false
			}
		}
		return true
	}
	if len(d.CloseSequence) > 0 {
		if _, err := knockSequence(c, dst, d.CloseSequence, d.TCPFlags); err != nil {
			w.fail("door %q: close knock: %v", d.Name, err)
			return open, "FAIL", service
		}
		if !waitUntil(3*time.Second, closedNow) {
			w.fail("door %q: still open after the close sequence", d.Name)
			return open, "FAIL", service
		}
		closed = "ok seq"
	} else {
		time.Sleep(d.OpenFor)
		if !waitUntil(3*time.Second, closedNow) {
			w.fail("door %q: still open %s after the knock (open_for)", d.Name, d.OpenFor)
			return open, "FAIL", service
		}
		closed = "ok " + d.OpenFor.String()
	}
	if d.Managed() {
		if !waitUntil(10*time.Second, func() bool { return !running() }) {
			w.fail("door %q: the service still runs after the grant ended\nmonitor log:\n%s", d.Name, monOut.String())
			return open, closed, service + ", not stopped"
		}
		service += ", stopped"
	}
	return open, closed, service
}

// rename gives the server's end of a link another name, keeping its
// addresses.
func rename(n *netns.NS, from, to string) error {
	for _, args := range [][]string{
		{"sysctl", "-q", "-w", "net.ipv6.conf.all.keep_addr_on_down=1"},
		{"ip", "link", "set", "dev", from, "down"},
		{"ip", "link", "set", "dev", from, "name", to},
		{"ip", "link", "set", "dev", to, "up"},
	} {
		if _, err := n.Exec(args[0], args[1:]...); err != nil {
			return fmt.Errorf("rename %s to %s: %w", from, to, err)
		}
	}
	if !waitUntil(5*time.Second, func() bool {
		out, _ := n.Exec("ip", "-o", "addr", "show", "dev", to)
		return strings.Contains(out, "inet ") && !strings.Contains(out, "tentative")
	}) {
		return fmt.Errorf("rename %s to %s: addresses not back", from, to)
	}
	return nil
}

// knockToken sends one token of the door's only key with knockc knock
// --key from the client.
func knockToken(c *netns.Client, dst netip.Addr, d *compiler.Door) (string, error) {
	if len(d.Token.Keys) == 0 {
		return "", errors.New("a token door without a key")
	}
	args := []string{"netns", "exec", c.NS.Name, knockcBin, "knock", "--key", d.Token.Keys[0].Path, dst.String(), d.Name}
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("knockc knock --key: %v: %s", err, out)
	}
	return "token", nil
}

// knockSequence sends steps from c to dst: with knockd's own knock client
// when a plain connect's SYN counts as a knock, else with hand-made
// segments carrying exactly the flags the door wants. It says which.
func knockSequence(c *netns.Client, dst netip.Addr, steps []compiler.Step, flags compiler.TCPFlags) (string, error) {
	if sandbox.SYN&flags.Mask == flags.Flags || !hasTCP(steps) {
		args := []string{"netns", "exec", c.NS.Name, "knock"}
		if dst.Is6() {
			args = append(args, "-6")
		}
		args = append(args, dst.String())
		for _, s := range steps {
			args = append(args, fmt.Sprintf("%d:%s", s.Port, s.Proto))
		}
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return "", fmt.Errorf("knock: %v: %s", err, out)
		}
		return "knock", nil
	}
	for _, s := range steps {
		var err error
		if s.Proto == ruleset.UDP {
			err = c.KnockUDP(dst, s.Port)
		} else {
			err = c.SendTCPFlags(netip.Addr{}, dst, s.Port, flags.Flags)
		}
		if err != nil {
			return "", err
		}
	}
	return "raw " + flags.String(), nil
}

func hasTCP(steps []compiler.Step) bool {
	for _, s := range steps {
		if s.Proto == ruleset.TCP {
			return true
		}
	}
	return false
}

// listen serves port inside n until the namespace goes away: TCP
// connections are accepted and closed, UDP datagrams echoed.
func listen(n *netns.NS, p compiler.Step) error {
	var ln net.Listener
	var pc net.PacketConn
	err := n.Do(func() error {
		var err error
		if p.Proto == ruleset.UDP {
			pc, err = net.ListenPacket("udp", fmt.Sprintf(":%d", p.Port))
		} else {
			ln, err = net.Listen("tcp", fmt.Sprintf(":%d", p.Port))
		}
		return err
	})
	switch {
	case err != nil && strings.Contains(err.Error(), "address already in use"):
		return nil // a door before this one protects the same port
	case err != nil:
		return err
	case pc != nil:
		go func() {
			buf := make([]byte, 64)
			for {
				n, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				pc.WriteTo(buf[:n], from)
			}
		}()
		return nil
	}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conn.Close()
		}
	}()
	return nil
}

// reach reports whether the client gets through to p: a completed TCP
// handshake, or a UDP datagram echoed back.
func reach(c *netns.Client, dst netip.Addr, p compiler.Step) bool {
	if p.Proto == ruleset.TCP {
		return c.Connect(dst, p.Port, 300*time.Millisecond) == sandbox.Open
	}
	got := false
	c.NS.Do(func() error {
		conn, err := net.Dial("udp", netip.AddrPortFrom(dst, p.Port).String())
		if err != nil {
			return err
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(300 * time.Millisecond))
		if _, err := conn.Write([]byte("knockc")); err != nil {
			return err
		}
		buf := make([]byte, 16)
		n, err := conn.Read(buf)
		got = err == nil && string(buf[:n]) == "knockc"
		return nil
	})
	return got
}

// sshBanner makes one connection and reads the server's first line.
func sshBanner(c *netns.Client, dst netip.Addr, port uint16) (string, error) {
	conn, err := c.Dial(dst, port, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	return bufio.NewReader(conn).ReadString('\n')
}

// unitActive asks the booted systemd whether unit is active.
func unitActive(m *systemdtest.Manager, unit string) bool {
	path := "/org/freedesktop/systemd1/unit/" + strings.NewReplacer(".", "_2e", "-", "_2d").Replace(unit)
	o, _ := exec.Command("busctl", "--address="+m.BusAddress(), "get-property", "org.freedesktop.systemd1",
		path, "org.freedesktop.systemd1.Unit", "ActiveState").Output()
	return strings.Contains(string(o), `"active"`) || strings.Contains(string(o), `"activating"`)
}

// waitUntil polls cond every 20 ms until it holds or timeout passes.
func waitUntil(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}
