//go:build linux

package monitor_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/internal/testenv"
	"github.com/knockc/knockc/internal/testenv/netns"
	"github.com/knockc/knockc/internal/testenv/sshdtest"
	"github.com/knockc/knockc/ruleset/nftkernel"
)

// knockcBin is the knockc binary built once for these tests.
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

// sshEnv is a server namespace with knockc's table applied and a managed
// door whose service is a real sshd, and a client namespace.
type sshEnv struct {
	t    testing.TB
	pair *netns.Pair
	sshd *sshdtest.Server
	spec string
	mon  *monitorProc
}

// newSSHEnv prepares the namespaces and the spec; startPrefix, when given,
// wraps sshd's start argv (e.g. to make the start slow).
func newSSHEnv(t testing.TB, openFor string, startPrefix ...string) *sshEnv {
	return newSSHEnvWith(t, openFor, "", startPrefix...)
}

// newSSHEnvWith is newSSHEnv with extra door lines.
func newSSHEnvWith(t testing.TB, openFor, extra string, startPrefix ...string) *sshEnv {
	t.Helper()
	netns.RequireRoot(t, "ip", "nft", "sshd", "ssh", "ssh-keygen")
	pair := netns.NewPair(t)
	sshd := sshdtest.New(t, 22)
	start := append(startPrefix, sshd.StartArgv()...)
	spec := fmt.Sprintf(`[door.ssh]
sequence       = ["7000/tcp", "8000/tcp", "9000/tcp"]
close_sequence = ["9000/tcp", "8000/tcp", "7000/tcp"]
protect        = ["22/tcp"]
open_for       = %q
start_command  = %s
stop_command   = %s
%s
`, openFor, tomlArray(start), tomlArray(sshd.StopArgv()), extra)
	path := filepath.Join(t.TempDir(), "knock.toml")
	if err := os.WriteFile(path, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := compiler.Parse(path, []byte(spec))
	if err != nil {
		t.Fatalf("Parse(spec) = %v", err)
	}
	conn, err := nftkernel.Open(pair.Server.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Apply(compiler.Compile(s), nil); err != nil {
		t.Fatalf("Apply() = %v", err)
	}
	return &sshEnv{t: t, pair: pair, sshd: sshd, spec: path}
}

func tomlArray(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = fmt.Sprintf("%q", a)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// monitorProc is `knockc monitor` running in the server namespace.
type monitorProc struct {
	cmd *exec.Cmd
	out *testenv.Buffer
}

// startMonitor runs the monitor in the server namespace and waits until
// it reports ready.
func (e *sshEnv) startMonitor(extra ...string) *monitorProc {
	e.t.Helper()
	out := &testenv.Buffer{}
	args := append([]string{"netns", "exec", e.pair.Server.Name, knockcBin, "monitor", "--reconcile", "500ms", "--log-format", "json"}, extra...)
	cmd := exec.Command("ip", append(args, e.spec)...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		e.t.Fatalf("start monitor: %v", err)
	}
	m := &monitorProc{cmd: cmd, out: out}
	e.t.Cleanup(func() { m.kill(syscall.SIGKILL) })
	e.waitFor("monitor ready", func() bool { return strings.Contains(out.String(), `"monitor ready"`) })
	e.mon = m
	return m
}

func (m *monitorProc) kill(sig syscall.Signal) {
	if m.cmd.ProcessState == nil {
		m.cmd.Process.Signal(sig)
		m.cmd.Wait()
	}
}

func (e *sshEnv) knock(steps ...uint16) {
	e.t.Helper()
	c := e.pair.Primary
	for _, p := range steps {
		if err := c.KnockTCP(c.ServerV4, p); err != nil {
			e.t.Fatalf("knock %d: %v", p, err)
		}
	}
}

func (e *sshEnv) waitFor(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			log := ""
			if e.mon != nil {
				log = e.mon.out.String()
			}
			e.t.Fatalf("timed out waiting for %s\nmonitor log:\n%s", what, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// session is a real ssh login from the client namespace that stays open:
// each line written to it comes back as "got:LINE".
type session struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

func (e *sshEnv) login() *session {
	e.t.Helper()
	args := append([]string{"netns", "exec", e.pair.Client.Name, "ssh"}, e.sshd.ClientArgs(e.pair.ServerV4.String())...)
	args = append(args, `echo ready; while read x; do echo "got:$x"; done`)
	cmd := exec.Command("ip", args...)
	in, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr testenv.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		e.t.Fatalf("ssh: %v", err)
	}
	s := &session{cmd: cmd, in: in, out: bufio.NewReader(stdout)}
	e.t.Cleanup(func() { in.Close(); cmd.Process.Kill(); cmd.Wait() })
	line, err := s.out.ReadString('\n')
	if err != nil || line != "ready\n" {
		e.t.Fatalf("ssh login = %q, %v; stderr: %s\nmonitor log:\n%s", line, err, stderr.String(), e.mon.out.String())
	}
	return s
}

// alive checks that the session still carries data both ways.
func (s *session) alive(t *testing.T, msg string) {
	t.Helper()
	fmt.Fprintln(s.in, msg)
	got := make(chan string, 1)
	go func() { l, _ := s.out.ReadString('\n'); got <- l }()
	select {
	case l := <-got:
		if l != "got:"+msg+"\n" {
			t.Fatalf("session echo = %q, want %q", l, "got:"+msg)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("session did not answer %q: it should have survived", msg)
	}
}

func (e *sshEnv) wantPort(want netns.Outcome, why string) {
	e.t.Helper()
	c := e.pair.Primary
	if got := c.Connect(c.ServerV4, 22, 500*time.Millisecond); got != want {
		e.t.Fatalf("%s: connect to 22 = %s, want %s", why, got, want)
	}
}

// The seed's best practice, end to end: sshd is down until the knock;
// the knock starts it and lets the knocker in (a real ssh login); the
// close sequence stops it and closes the port while the session lives on.
func TestIntegrationMonitorManagesRealSSHD(t *testing.T) {
	t.Parallel()
	e := newSSHEnv(t, "1m")
	e.startMonitor()
	if e.sshd.Running() {
		t.Fatal("sshd runs before any knock")
	}
	e.wantPort(netns.Refused, "before the knock")

	e.knock(7000, 8000, 9000)
	sess := e.login() // its first SYN may be dropped while sshd starts; ssh resends
	if !e.sshd.Running() {
		t.Fatal("sshd does not run after the knock")
	}
	sess.alive(t, "one")

	e.knock(9000, 8000, 7000)
	e.waitFor("sshd stopped after the close sequence", func() bool { return !e.sshd.Running() })
	e.wantPort(netns.Refused, "after the close sequence")
	sess.alive(t, "two")
}

// Without a close sequence, the end of open_for stops sshd the same way.
func TestIntegrationMonitorStopsServiceWhenGrantExpires(t *testing.T) {
	t.Parallel()
	e := newSSHEnv(t, "3s")
	e.startMonitor()
	e.knock(7000, 8000, 9000)
	sess := e.login()
	e.waitFor("sshd stopped after open_for", func() bool { return !e.sshd.Running() })
	e.wantPort(netns.Refused, "after open_for")
	sess.alive(t, "still here")
}

// SIGKILL while a knocker waits for the service: after a restart the
// monitor's reconcile finishes the grant and the knocker gets in.
func TestIntegrationMonitorKilledDuringOpenRecovers(t *testing.T) {
	t.Parallel()
	e := newSSHEnv(t, "1m", "/bin/sh", "-c", `sleep 2; exec "$0" "$@"`)
	m := e.startMonitor()
	e.knock(7000, 8000, 9000)
	time.Sleep(500 * time.Millisecond) // the event took a millisecond; the start takes 2 s
	m.kill(syscall.SIGKILL)
	if e.sshd.Running() {
		t.Fatal("sshd already runs: the kill did not land during the start")
	}
	e.startMonitor()
	sess := e.login()
	sess.alive(t, "recovered")
}

// With --apply the monitor puts knockc's table back when another tool
// flushes the whole ruleset (as Debian's nftables.service does on reload),
// and the door works again.
func TestIntegrationMonitorReappliesFlushedTable(t *testing.T) {
	t.Parallel()
	e := newSSHEnv(t, "1m")
	m := e.startMonitor("--apply")
	e.pair.Server.Run(t, "nft", "flush", "ruleset")
	e.waitFor("the table back after a flush", func() bool {
		out, _ := e.pair.Server.Exec("nft", "list", "tables")
		return strings.Contains(out, "table inet knockc")
	})
	// The monitor logs once its batch is in, so the table can show before
	// the line does: wait for the line too.
	e.waitFor("the monitor to say it restored the table", func() bool {
		return strings.Contains(m.out.String(), `"msg":"knockc's table restored`) && strings.Contains(m.out.String(), `"what":"table deleted"`)
	})
	e.wantPort(netns.Refused, "after the table came back, before a knock")
	e.knock(7000, 8000, 9000)
	e.login().alive(t, "after a flush")
}
