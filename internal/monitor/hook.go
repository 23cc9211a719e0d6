package monitor

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/knockc/knockc/ruleset"
)

// Hooks are bounded three ways, so that no knocker can make the monitor
// fork without end (a knocker repeating its sequence used to start a hook
// per sequence): a hook runs once per grant, not per repeated sequence
// (see door.open); at most maxHooks run at once, and at most hookQueue
// more wait, beyond which a hook is skipped and logged; each runs at most
// Config.HookTimeout, after which its whole process group is killed.
const (
	maxHooks  = 4
	hookQueue = 64
)

// defaultPath is the hooks' PATH when the monitor has none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// hookJob is one hook waiting to run.
type hookJob struct {
	d     *door
	argv  []string
	event string
	addr  netip.Addr
	key   string // the token key's name for an open by token, else ""
}

// hook queues a door's on_open/on_close argv to run in the background,
// without a shell, in a clean environment: PATH and the door, event,
// address and family (KNOCKC_DOOR, KNOCKC_EVENT, KNOCKC_ADDR,
// KNOCKC_FAMILY, and for an open by token the key's name in KNOCKC_KEY),
// nothing else of the monitor's (its unit's secrets, NOTIFY_SOCKET...).
// A failing or skipped hook is logged and changes nothing else.
func (d *door) hook(argv []string, event string, addr netip.Addr, key string) {
	if len(argv) == 0 {
		return
	}
	select {
	case d.m.hooks <- hookJob{d: d, argv: argv, event: event, addr: addr, key: key}:
	default:
		d.log.Warn("hook skipped: too many hooks waiting", "event", event, "addr", addr, "argv", argv, "running", maxHooks, "waiting", hookQueue)
	}
}

// runHooks runs queued hooks, maxHooks at a time, until ctx ends.
func (m *Monitor) runHooks(ctx context.Context) {
	for range maxHooks {
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case j := <-m.hooks:
					j.d.runHook(j)
				}
			}
		}()
	}
}

// hookEnv returns the whole environment of a hook.
func hookEnv(door, event string, addr netip.Addr, key string) []string {
	path := os.Getenv("PATH")
	if path == "" {
		path = defaultPath
	}
	env := []string{
		"PATH=" + path,
		"KNOCKC_DOOR=" + door,
		"KNOCKC_EVENT=" + event,
		"KNOCKC_ADDR=" + addr.String(),
		"KNOCKC_FAMILY=" + ruleset.FamilyOf(addr).String(),
	}
	if key != "" {
		env = append(env, "KNOCKC_KEY="+key)
	}
	return env
}

func (d *door) runHook(j hookJob) {
	ctx, cancel := context.WithTimeout(context.Background(), d.m.cfg.HookTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, j.argv[0], j.argv[1:]...)
	cmd.Env = hookEnv(d.spec.Name, j.event, j.addr, j.key)
	cmd.Dir = "/"
	// Its own process group, killed whole at the timeout: a hook's
	// children must not outlive it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		d.log.Warn("hook failed", "event", j.event, "addr", j.addr, "argv", j.argv, "took", time.Since(t0), "err", err, "output", strings.TrimSpace(string(out)))
		return
	}
	d.log.Debug("hook ran", "event", j.event, "addr", j.addr, "argv", j.argv, "took", time.Since(t0))
}
