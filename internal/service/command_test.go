//go:build linux

package service

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/knockc/knockc/internal/testenv/netns"
)

// inNS runs f on a thread inside ns (so probes and spawned commands are
// there) and fails the test when switching fails.
func inNS(t *testing.T, ns *netns.NS, f func() error) error {
	t.Helper()
	var ferr error
	if err := ns.Do(func() error { ferr = f(); return nil }); err != nil {
		t.Fatalf("in namespace %s: %v", ns.Name, err)
	}
	return ferr
}

// dials reports whether 127.0.0.1:port accepts inside ns.
func dials(t *testing.T, ns *netns.NS, port string) bool {
	t.Helper()
	return inNS(t, ns, func() error {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second)
		if err == nil {
			c.Close()
		}
		return err
	}) == nil
}

func isActive(t *testing.T, ns *netns.NS, svc Service) bool {
	t.Helper()
	var on bool
	err := inNS(t, ns, func() (err error) {
		on, err = svc.Active(context.Background())
		return err
	})
	if err != nil {
		t.Fatalf("%s: Active() = %v", svc, err)
	}
	return on
}

// A daemonizing start command whose daemon listens only later: Start
// returns once the port accepts, not when the command exits; Stop runs the
// stop command; a new Command value sees the running service by its port;
// stopping a stopped service is fine (its stop command is not even run,
// though it would fail); and all of it twice.
func TestIntegrationCommandDaemon(t *testing.T) {
	t.Parallel()
	netns.RequireRoot(t)
	ns := netns.New(t, "ksvcd")
	pidfile := filepath.Join(t.TempDir(), "pid")
	const delay = 150 * time.Millisecond
	start := helperArgv(t, "daemon", "2222", pidfile, delay.String())
	stop := helperArgv(t, "stop", pidfile)
	svc := Command(start, stop, WithReadyPorts(2222))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	if isActive(t, ns, svc) {
		t.Fatal("Active() before Start = true")
	}
	for round := 1; round <= 2; round++ {
		t0 := time.Now()
		if err := inNS(t, ns, func() error { return svc.Start(ctx) }); err != nil {
			t.Fatalf("round %d: Start() = %v", round, err)
		}
		if took := time.Since(t0); took < delay {
			t.Errorf("round %d: Start() returned after %v, before the daemon listens (%v)", round, took, delay)
		}
		if !dials(t, ns, "2222") {
			t.Fatalf("round %d: port 2222 refuses right after Start()", round)
		}
		if !isActive(t, ns, svc) {
			t.Fatalf("round %d: Active() after Start = false", round)
		}
		if err := inNS(t, ns, func() error { return svc.Start(ctx) }); err != nil {
			t.Fatalf("round %d: Start() of a started service = %v", round, err)
		}
		if fresh := Command(start, stop, WithReadyPorts(2222)); !isActive(t, ns, fresh) {
			t.Fatalf("round %d: a new Command value does not see the running service", round)
		}
		if c := svc.(*command); c.child != nil {
			t.Errorf("round %d: a daemonizing start command was kept as a child", round)
		}
		for i := 0; i < 2; i++ {
			if err := inNS(t, ns, func() error { return svc.Stop(ctx) }); err != nil {
				t.Fatalf("round %d: Stop() #%d = %v", round, i+1, err)
			}
		}
		if _, err := os.Stat(pidfile); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("round %d: the daemon's pid file is still there after Stop (stop argv not run?)", round)
		}
		if dials(t, ns, "2222") || isActive(t, ns, svc) {
			t.Fatalf("round %d: port 2222 still accepts or Active() = true after Stop", round)
		}
	}
}

// A start command that keeps running is a foreground daemon: Start
// returns once its port accepts and keeps it as a child; Stop runs the
// stop command and reaps the child. Without a stop command, Stop ends the
// child itself.
func TestIntegrationCommandForeground(t *testing.T) {
	t.Parallel()
	netns.RequireRoot(t)
	ns := netns.New(t, "ksvcf")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, withStop := range []bool{true, false} {
		pidfile := filepath.Join(t.TempDir(), "pid")
		var stop []string
		if withStop {
			stop = helperArgv(t, "stop", pidfile)
		}
		svc := Command(helperArgv(t, "listen", "2222", pidfile, "50ms"), stop, WithReadyPorts(2222), WithGrace(20*time.Millisecond))
		if err := inNS(t, ns, func() error { return svc.Start(ctx) }); err != nil {
			t.Fatalf("stop argv %v: Start() = %v", withStop, err)
		}
		c := svc.(*command)
		if c.child == nil || c.child.exited() {
			t.Fatalf("stop argv %v: foreground daemon not kept as a running child", withStop)
		}
		child := c.child
		if !dials(t, ns, "2222") || !isActive(t, ns, svc) {
			t.Fatalf("stop argv %v: not up after Start()", withStop)
		}
		if err := inNS(t, ns, func() error { return svc.Stop(ctx) }); err != nil {
			t.Fatalf("stop argv %v: Stop() = %v", withStop, err)
		}
		if !child.exited() {
			t.Fatalf("stop argv %v: child still running after Stop()", withStop)
		}
		if dials(t, ns, "2222") || isActive(t, ns, svc) {
			t.Fatalf("stop argv %v: still up after Stop()", withStop)
		}
	}
}

// Without ready ports, a start command still running after the grace
// period is up; Active follows the child, and a dead child is down for
// Stop too.
func TestCommandForegroundWithoutPorts(t *testing.T) {
	t.Parallel()
	svc := Command(helperArgv(t, "sleep"), nil, WithGrace(50*time.Millisecond))
	ctx := context.Background()
	t0 := time.Now()
	if err := svc.Start(ctx); err != nil {
		t.Fatalf("Start() = %v", err)
	}
	if took := time.Since(t0); took < 50*time.Millisecond || took > 2*time.Second {
		t.Errorf("Start() took %v, want about the 50ms grace period", took)
	}
	if on, err := svc.Active(ctx); !on || err != nil {
		t.Fatalf("Active() after Start = %v, %v; want true", on, err)
	}
	child := svc.(*command).child
	child.kill(syscall.SIGKILL)
	<-child.done
	if on, err := svc.Active(ctx); on || err != nil {
		t.Fatalf("Active() after the child was killed = %v, %v; want false", on, err)
	}
	if err := svc.Stop(ctx); err != nil {
		t.Fatalf("Stop() of a dead child = %v", err)
	}
	// A daemonizing start command without ports: up once it exits 0;
	// with no stop command, Stop cannot stop it and says so.
	d := Command(helperArgv(t, "touch", filepath.Join(t.TempDir(), "x")), nil, WithGrace(5*time.Second))
	if err := d.Start(ctx); err != nil {
		t.Fatalf("Start(exits 0) = %v", err)
	}
	if on, _ := d.Active(ctx); !on {
		t.Fatal("Active() after a start command exited 0 = false")
	}
	if err := d.Stop(ctx); err == nil || !strings.Contains(err.Error(), "no stop command") {
		t.Fatalf("Stop() without a stop command = %v, want it to say so", err)
	}
}

// Failures carry the command's exit status and the end of its output, and
// a service that never comes up fails at the deadline.
func TestCommandFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	svc := Command(helperArgv(t, "fail", "3", "no", "luck"), []string{"/nonexistent"})
	err := svc.Start(ctx)
	if err == nil || !strings.Contains(err.Error(), "exit status 3: no luck") || !strings.HasPrefix(err.Error(), "start command [") {
		t.Fatalf("Start(failing argv) = %v, want its exit status and output", err)
	}
	if on, _ := svc.Active(ctx); on {
		t.Fatal("Active() after a failed Start = true")
	}

	err = Command(helperArgv(t, "spew", "1000"), nil).Start(ctx)
	if err == nil || !strings.Contains(err.Error(), "exit status 1: …") || !strings.HasSuffix(err.Error(), "line 999 of some chatty output") || len(err.Error()) > 1000 {
		t.Fatalf("Start(chatty failing argv) = %v, want the end of its output, cut", err)
	}

	err = Command([]string{"/nonexistent/start"}, nil).Start(ctx)
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/start") {
		t.Fatalf("Start(missing program) = %v, want an error naming it", err)
	}

	// Stop's command fails: its output is in the error.
	err = Command(helperArgv(t, "sleep"), helperArgv(t, "fail", "4", "cannot", "stop"), WithGrace(10*time.Millisecond)).Stop(ctx)
	if err == nil || !strings.Contains(err.Error(), "exit status 4: cannot stop") || !strings.HasPrefix(err.Error(), "stop command [") {
		t.Fatalf("Stop(failing stop argv) = %v, want its exit status and output", err)
	}
}

// A start that never becomes ready fails at the context's deadline (or
// the service's timeout), and what it started is ended: the stop command
// runs after a daemonizing start, a foreground child is killed. Port 1
// (tcpmux) is only dialled, never bound.
func TestCommandNeverReady(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	stopped := filepath.Join(dir, "stopped")
	daemon := Command([]string{"/bin/true"}, helperArgv(t, "touch", stopped), WithReadyPorts(1))
	short, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	err := daemon.Start(short)
	if err == nil || !strings.Contains(err.Error(), "no port of 1/tcp accepts") || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Start(never ready) = %v, want a readiness error at the deadline", err)
	}
	if took := time.Since(t0); took > time.Second {
		t.Errorf("Start(never ready) took %v, want it bounded by the 200ms deadline", took)
	}
	if _, err := os.Stat(stopped); err != nil {
		t.Errorf("stop command not run after a start that never became ready: %v", err)
	}

	fg := Command(helperArgv(t, "sleep"), nil, WithReadyPorts(1), WithTimeout(200*time.Millisecond))
	t0 = time.Now()
	err = fg.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "timeout 200ms") || !strings.Contains(err.Error(), "killed it") {
		t.Fatalf("Start(foreground, never ready) = %v, want the timeout and the kill named", err)
	}
	if took := time.Since(t0); took > time.Second {
		t.Errorf("Start(foreground, never ready) took %v, want it bounded by the 200ms timeout", took)
	}
	if c := fg.(*command); c.child != nil || c.started {
		t.Error("a start that failed left the service marked started")
	}
}

func TestCommandString(t *testing.T) {
	for _, tc := range []struct {
		argv []string
		want string
	}{
		{[]string{"/usr/sbin/sshd"}, `command ["/usr/sbin/sshd"]`},
		{[]string{"/usr/sbin/sshd", "-D", "-e"}, `command ["/usr/sbin/sshd" "-D" "-e"]`},
		{[]string{"/usr/sbin/sshd", "-D", "-e", "-p", "22"}, `command ["/usr/sbin/sshd" "-D" "-e" …]`},
	} {
		if got := Command(tc.argv, nil).String(); got != tc.want {
			t.Errorf("Command(%q).String() = %s, want %s", tc.argv, got, tc.want)
		}
	}
	if got, want := Systemd("ssh.service").String(), `systemd unit "ssh.service"`; got != want {
		t.Errorf("Systemd(ssh.service).String() = %s, want %s", got, want)
	}
}
