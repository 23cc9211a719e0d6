//go:build linux

package service

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/knockc/knockc/internal/netns"
	"github.com/knockc/knockc/internal/sshdtest"
)

// A daemonizing start command (a real sshd) counts as up once its port
// accepts; stop brings it down; Active follows the port, so a monitor
// restarted later sees a service it did not start itself.
func TestIntegrationCommandService(t *testing.T) {
	netns.RequireRoot(t, "ip", "sshd", "ssh-keygen")
	ns := netns.New(t, "ksvc")
	sshd := sshdtest.New(t, 22)
	svc := Command(sshd.StartArgv(), sshd.StopArgv(), WithReadyPorts(22))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	do := func(f func() error) error { return ns.Do(f) }
	active := func() bool {
		var on bool
		do(func() (err error) { on, err = svc.Active(ctx); return err })
		return on
	}
	if active() {
		t.Fatal("Active() before Start = true")
	}
	if err := do(func() error { return svc.Start(ctx) }); err != nil {
		t.Fatalf("Start() = %v", err)
	}
	if !active() || !sshd.Running() {
		t.Fatalf("after Start: Active() = %v, sshd running = %v, want both true", active(), sshd.Running())
	}
	fresh := Command(sshd.StartArgv(), sshd.StopArgv(), WithReadyPorts(22))
	var seen bool
	do(func() (err error) { seen, err = fresh.Active(ctx); return err })
	if !seen {
		t.Fatal("a new Command value does not see the running service (a restarted monitor would start it twice)")
	}
	if err := do(func() error { return svc.Stop(ctx) }); err != nil {
		t.Fatalf("Stop() = %v", err)
	}
	if active() || sshd.Running() {
		t.Fatalf("after Stop: Active() = %v, sshd running = %v, want both false", active(), sshd.Running())
	}
}

func TestCommandFailures(t *testing.T) {
	ctx := context.Background()
	err := Command([]string{"/bin/sh", "-c", "echo no luck >&2; exit 3"}, []string{"/bin/true"}).Start(ctx)
	if err == nil || !strings.Contains(err.Error(), "exit status 3: no luck") {
		t.Fatalf("Start(failing argv) = %v, want its exit status and output", err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	err = Command([]string{"/bin/true"}, []string{"/bin/true"}, WithReadyPorts(1)).Start(short)
	if err == nil || !strings.Contains(err.Error(), "no port of [1] accepts") {
		t.Fatalf("Start(never ready) = %v, want a readiness error", err)
	}
	if d := time.Since(t0); d > time.Second {
		t.Fatalf("Start(never ready) took %v, want it bounded by the 200ms deadline", d)
	}
	ok := Command([]string{"/bin/true"}, []string{"/bin/true"})
	if err := ok.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if on, _ := ok.Active(ctx); !on {
		t.Fatal("Active() after Start without ready ports = false")
	}
	ok.Stop(ctx)
	if on, _ := ok.Active(ctx); on {
		t.Fatal("Active() after Stop without ready ports = true")
	}
}
