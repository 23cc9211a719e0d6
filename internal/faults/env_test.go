//go:build linux

package faults

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/knockc/knockc/internal/testenv"
	"github.com/knockc/knockc/internal/testenv/netns"
	"github.com/knockc/knockc/internal/testenv/sshdtest"
	"github.com/knockc/knockc/internal/testenv/systemdtest"
	"golang.org/x/sys/unix"
)

// setup is how the host around knockc is built for one column of the
// matrix.
type setup struct {
	name string
	// managed: the door starts sshd on the knock and stops it when the
	// last grant ends (the seed's best practice); otherwise a listener
	// runs on the protected port all the time and the door only gates it.
	managed bool
	// mark: the spec sets grant_mark and the host's firewall allows the
	// protected port only for marked packets (README, "Fail open or fail
	// closed"); the listener runs all the time, as in plain.
	mark bool
	// failClosed: a stranger must never complete a handshake, whatever the
	// fault (but see row.noHostFirewall); the test fails if one does.
	failClosed bool
}

var (
	plain   = setup{name: "plain"}
	managed = setup{name: "managed", managed: true, failClosed: true}
	marked  = setup{name: "grant_mark", mark: true, failClosed: true}
)

// protected is the port every door of the matrix guards.
const protected = 22

// hostFirewall is the host's own firewall: it accepts the protected port,
// as the README tells the operator to, and leaves the rest alone.
const hostFirewall = `table inet host {
	chain input {
		type filter hook input priority filter; policy accept;
		tcp dport 22 accept
	}
}
`

// markFirewall is the host's own firewall of the grant_mark setup: the
// protected port is open only to packets knockc marked, so without
// knockc's table it is closed to everyone.
const markFirewall = `table inet host {
	chain input {
		type filter hook input priority filter; policy accept;
		ct state established,related accept
		tcp dport 22 meta mark & 0x10 == 0x10 accept
		tcp dport 22 reject with tcp reset
	}
}
`

// hostFirewall returns the host's own firewall for e's setup.
func (e *env) hostFirewall() string {
	if e.setup.mark {
		return markFirewall
	}
	return hostFirewall
}

// env is one run of the matrix: a server namespace with the host's
// firewall, knockc's table applied by the monitor, the protected port's
// listener, a knocker with an established session and a stranger.
type env struct {
	t        *testing.T
	setup    setup
	dir      string
	server   *netns.NS
	clients  int
	knocker  *netns.Client
	stranger *netns.Client
	sshd     *sshdtest.Server // managed setups: the door's service
	listener *netns.Listener  // plain setups: always listening
	mon      *monitorProc
	sd       *systemdtest.Manager // with specOpts.systemd
	systemd  bool                 // the monitor runs under the booted systemd sd
	session  session              // the knocker's established session
	granted  bool                 // the knocker holds a grant when the fault begins
	// setupNote says what the setup had to repeat, for the matrix's notes.
	setupNote string
}

// specOpts vary the spec a row applies.
type specOpts struct {
	web        bool     // a second door, web, protecting 8080/tcp
	interfaces []string // [table] interfaces
	slowStart  bool     // the managed service takes 1 s to start
	// systemd: the server is a booted systemd running the shipped monitor
	// unit and a stand-in nftables.service (systemd_test.go).
	systemd bool
}

// spec writes the spec for o under e.dir and returns its path.
func (e *env) spec(name string, o specOpts) string {
	e.t.Helper()
	var b strings.Builder
	if len(o.interfaces) > 0 || e.setup.mark {
		b.WriteString("[table]\n")
		if len(o.interfaces) > 0 {
			fmt.Fprintf(&b, "interfaces = %s\n", tomlArray(o.interfaces))
		}
		if e.setup.mark {
			b.WriteString("grant_mark = 0x10\n")
		}
		b.WriteString("\n")
	}
	b.WriteString(`[door.ssh]
sequence       = ["7000/tcp", "8000/tcp", "9000/tcp"]
close_sequence = ["9000/tcp", "8000/tcp", "7000/tcp"]
protect        = ["22/tcp"]
open_for       = "60s"
`)
	if e.setup.managed && e.systemd {
		b.WriteString("service        = \"knock-sshd.service\"\n")
	} else if e.setup.managed {
		start := e.sshd.StartArgv()
		if o.slowStart {
			start = append([]string{"/bin/sh", "-c", `sleep 1; exec "$0" "$@"`}, start...)
		}
		fmt.Fprintf(&b, "start_command  = %s\nstop_command   = %s\n", tomlArray(start), tomlArray(e.sshd.StopArgv()))
	}
	if o.web {
		b.WriteString(`
[door.web]
sequence = ["7100/tcp", "7200/tcp", "7300/tcp"]
protect  = ["8080/tcp"]
`)
	}
	path := filepath.Join(e.dir, name+".toml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return path
}

func tomlArray(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = fmt.Sprintf("%q", a)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// newEnv builds the host for s, starts the monitor with --apply on the
// spec o describes (as the shipped unit does), and gives the knocker an
// established session: in a managed setup it then sends the close
// sequence, so that the service is stopped when the fault begins and only
// the session lives on.
func newEnv(t *testing.T, s setup, o specOpts) (*env, string) {
	t.Helper()
	e := &env{t: t, setup: s, dir: t.TempDir()}
	if s.managed {
		e.sshd = sshdtest.New(t, protected)
	}
	var specA string
	if o.systemd {
		e.systemd = true
		specA = e.spec("a", o)
		text, err := os.ReadFile(specA)
		if err != nil {
			t.Fatal(err)
		}
		e.bootServer(string(text))
	} else {
		e.server = netns.New(t, "kcm")
		e.nftFile(e.hostFirewall())
	}
	e.knocker = e.addClient()
	e.stranger = e.addClient()
	if !s.managed {
		e.listener = e.server.Listen(t, protected)
	}
	if !o.systemd {
		specA = e.spec("a", o)
		e.startMonitor(specA)
	}

	e.knockIn(e.knocker)
	if s.managed {
		e.session = e.sshLogin()
		e.knock(e.knocker, 9000, 8000, 7000)
		e.waitFor("sshd stopped after the close sequence", 10*time.Second, func() bool { return !e.sshd.Running() })
	} else {
		e.session = e.tcpSession()
		e.granted = true
	}
	if err := e.session.alive("before the fault"); err != nil {
		t.Fatalf("the knocker's session: %v", err)
	}
	if got := e.stranger.Connect(e.stranger.ServerV4, protected, 500*time.Millisecond); got != netns.Refused {
		t.Fatalf("before the fault, the stranger's connect to %d = %s, want refused", protected, got)
	}
	return e, specA
}

// addClient makes one more client namespace, joined to the server by its
// own veth pair and subnet.
func (e *env) addClient() *netns.Client {
	e.t.Helper()
	e.clients++
	c, err := netns.Link(e.server, netns.New(e.t, "kcmc"), e.clients)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// nftFile loads text into the server namespace with nft -f.
func (e *env) nftFile(text string) {
	e.t.Helper()
	path := filepath.Join(e.dir, fmt.Sprintf("ruleset-%d.nft", time.Now().UnixNano()))
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		e.t.Fatal(err)
	}
	e.server.Run(e.t, "nft", "-f", path)
}

// knock sends one SYN from c to each port in turn.
func (e *env) knock(c *netns.Client, ports ...uint16) {
	e.t.Helper()
	if err := knock(c, ports...); err != nil {
		e.t.Fatal(err)
	}
}

// knock sends one SYN to each port in turn from a single thread pinned to
// one CPU, so that the SYNs reach the server in the order sent: from
// different threads they enter different CPUs' backlogs, and under load a
// later knock can overtake an earlier one (strict mode then restarts the
// sequence, which would count against knockc).
func knock(c *netns.Client, ports ...uint16) error {
	return c.NS.Do(func() error {
		var old, one unix.CPUSet
		if err := unix.SchedGetaffinity(0, &old); err != nil {
			return fmt.Errorf("knock: get affinity: %w", err)
		}
		for cpu := 0; cpu < 1024; cpu++ {
			if old.IsSet(cpu) {
				one.Set(cpu)
				break
			}
		}
		if err := unix.SchedSetaffinity(0, &one); err != nil {
			return fmt.Errorf("knock: pin to one cpu: %w", err)
		}
		defer unix.SchedSetaffinity(0, &old)
		dst := &unix.SockaddrInet4{Addr: c.ServerV4.As4()}
		for _, p := range ports {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return fmt.Errorf("knock %d: %w", p, err)
			}
			unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1})
			dst.Port = int(p)
			err = unix.Connect(fd, dst)
			unix.Close(fd)
			if err != nil && !errors.Is(err, unix.EINPROGRESS) {
				return fmt.Errorf("knock %d: %w", p, err)
			}
		}
		return nil
	})
}

// knockIn knocks the open sequence from c until the kernel has c pending
// or granted, at most three times: the setup must begin with a knocker
// inside, whatever the load on the machine (a knock that had to be
// repeated is noted in the matrix).
func (e *env) knockIn(c *netns.Client) {
	e.t.Helper()
	for try := 0; try < 3; try++ {
		if try > 0 {
			e.setupNote = fmt.Sprintf("setup knock sent %d times", try+1)
		}
		e.knock(c, 7000, 8000, 9000)
		for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			for _, set := range []string{"ssh_pending_v4", "ssh_grant_v4"} {
				if out, err := e.server.Exec("nft", "list", "set", "inet", "knockc", set); err == nil && strings.Contains(out, c.V4.String()) {
					return
				}
			}
		}
	}
	table, _ := e.server.Exec("nft", "list", "table", "inet", "knockc")
	e.t.Fatalf("three knocks from %s did not make it pending or granted\nknockc's table:\n%s\nmonitor log:\n%s", c.V4, table, e.monitorLog())
}

// waitFor polls cond every 20 ms and fails the test when it does not hold
// within limit.
func (e *env) waitFor(what string, limit time.Duration, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out after %v waiting for %s\nmonitor log:\n%s", limit, what, e.monitorLog())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// knockc runs the knockc binary with args and returns its exit code and
// combined output; it fails the test only when the binary cannot run.
func (e *env) knockc(args ...string) (int, string) {
	return runKnockc(e.t, args...)
}

func runKnockc(t testing.TB, args ...string) (int, string) {
	out, err := exec.Command(knockcBin, args...).CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	}
	t.Errorf("knockc %s: %v", strings.Join(args, " "), err)
	return -1, string(out)
}

// monitorProc is `knockc monitor --apply` running in the server namespace.
type monitorProc struct {
	cmd  *exec.Cmd
	out  *testenv.Buffer
	done chan struct{}
}

// startMonitor runs the monitor in the server namespace on spec, as the
// shipped unit does (--apply, default reconcile), and waits until it
// reports ready.
func (e *env) startMonitor(spec string) *monitorProc {
	e.t.Helper()
	out := &testenv.Buffer{}
	if e.mon != nil {
		fmt.Fprint(out, e.mon.out.String()+"--- monitor started again\n")
	}
	cmd := exec.Command("ip", "netns", "exec", e.server.Name, knockcBin, "monitor", "--apply", "--log-format", "json", spec)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		e.t.Fatalf("start monitor: %v", err)
	}
	m := &monitorProc{cmd: cmd, out: out, done: make(chan struct{})}
	go func() { cmd.Wait(); close(m.done) }()
	e.mon = m
	e.t.Cleanup(func() { m.stop(syscall.SIGKILL) })
	e.waitFor("monitor ready", 10*time.Second, func() bool { return strings.Contains(out.String(), `"monitor ready"`) })
	return m
}

// stop sends sig to the monitor and waits until it has exited.
func (m *monitorProc) stop(sig syscall.Signal) {
	select {
	case <-m.done:
		return
	default:
	}
	m.cmd.Process.Signal(sig)
	select {
	case <-m.done:
	case <-time.After(10 * time.Second):
		m.cmd.Process.Kill()
		<-m.done
	}
}

func (e *env) monitorLog() string {
	if e.sd != nil {
		return e.monitorJournal()
	}
	if e.mon == nil {
		return "(no monitor)"
	}
	return e.mon.out.String()
}

// session is an established connection of the knocker's that must
// survive every fault.
type session interface {
	alive(msg string) error
}

// tcpSession is a TCP connection to the echo listener.
type tcpSession struct{ conn net.Conn }

func (e *env) tcpSession() session {
	e.t.Helper()
	c := e.knocker
	conn, err := c.Dial(c.ServerV4, protected, 2*time.Second)
	if err != nil {
		e.t.Fatalf("the knocker's connect after its knock: %v", err)
	}
	e.t.Cleanup(func() { conn.Close() })
	return &tcpSession{conn: conn}
}

func (s *tcpSession) alive(msg string) error {
	s.conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := fmt.Fprintln(s.conn, msg); err != nil {
		return fmt.Errorf("write %q: %w", msg, err)
	}
	got, err := bufio.NewReader(s.conn).ReadString('\n')
	if err != nil || got != msg+"\n" {
		return fmt.Errorf("echo of %q = %q, %v", msg, got, err)
	}
	return nil
}

// sshSession is a real ssh login that stays open: each line written to it
// comes back as "got:LINE".
type sshSession struct {
	in  io.WriteCloser
	out *bufio.Reader
}

func (e *env) sshLogin() session {
	e.t.Helper()
	args := append([]string{"netns", "exec", e.knocker.NS.Name, "ssh"}, e.sshd.ClientArgs(e.knocker.ServerV4.String())...)
	args = append(args, `echo ready; while read x; do echo "got:$x"; done`)
	cmd := exec.Command("ip", args...)
	in, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr testenv.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		e.t.Fatalf("ssh: %v", err)
	}
	e.t.Cleanup(func() { in.Close(); cmd.Process.Kill(); cmd.Wait() })
	s := &sshSession{in: in, out: bufio.NewReader(stdout)}
	line, err := s.out.ReadString('\n')
	if err != nil || line != "ready\n" {
		table, _ := e.server.Exec("nft", "list", "table", "inet", "knockc")
		e.t.Fatalf("ssh login = %q, %v; stderr: %s\nmonitor log:\n%s\nknockc's table:\n%s", line, err, stderr.String(), e.monitorLog(), table)
	}
	return s
}

func (s *sshSession) alive(msg string) error {
	if _, err := fmt.Fprintln(s.in, msg); err != nil {
		return fmt.Errorf("write %q: %w", msg, err)
	}
	got := make(chan string, 1)
	go func() { l, _ := s.out.ReadString('\n'); got <- l }()
	select {
	case l := <-got:
		if l != "got:"+msg+"\n" {
			return fmt.Errorf("echo of %q = %q", msg, l)
		}
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("no echo of %q within 5s", msg)
	}
}
