package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// command is a service started and stopped by argv commands.
type command struct {
	start, stop []string
	o           options

	op sync.Mutex // one Start or Stop at a time

	mu      sync.Mutex // guards the fields below
	started bool       // Start succeeded and Stop has not run since
	child   *process   // the start command, still running: a foreground daemon
}

// Command returns a service run by two argv lists, without a shell.
//
// Start runs the start argv. When it exits 0 the service has daemonized
// (as sshd does); when it still runs after the grace period (WithGrace),
// or once a ready port accepts, it is a foreground daemon that Command
// keeps as its child. Start fails when the argv cannot be run or exits
// non-zero (the error carries the end of its output), or when the service
// is not up before ctx or the timeout (WithTimeout) ends.
//
// Stop runs the stop argv, then ends a foreground child that outlived it
// (SIGTERM, then SIGKILL when ctx ends); without a stop argv, ending the
// child is all it does. Stop fails when the stop argv fails, or when
// nothing can stop the service (no stop argv, no child).
//
// Active is true from a successful Start until Stop, unless a foreground
// child failed meanwhile; with WithReadyPorts it is whether a port
// accepts, so a new Command value (a restarted monitor) sees a service
// started before it. Command itself never fails: errors come from the
// calls.
func Command(start, stop []string, opts ...Option) Service {
	return &command{start: start, stop: stop, o: newOptions(opts)}
}

// String names the service by the start argv's first elements:
// `command ["/usr/sbin/sshd" "-D" "-e" …]`.
func (c *command) String() string {
	const show = 3
	if len(c.start) <= show {
		return fmt.Sprintf("command %q", c.start)
	}
	s := fmt.Sprintf("%q", c.start[:show])
	return "command " + s[:len(s)-1] + " …]"
}

// Start runs the start command and waits until the service is up. When
// the service is not up in time, Start ends what it started (kills a
// foreground child, or runs the stop command after a daemonizing one) so
// that a later Start begins afresh.
func (c *command) Start(ctx context.Context) error {
	c.op.Lock()
	defer c.op.Unlock()
	ctx, cancel := withTimeout(ctx, c.o.timeout)
	defer cancel()
	if len(c.start) == 0 {
		return fmt.Errorf("start %s: no start command", c)
	}
	if c.upByUs(ctx) {
		return nil
	}
	c.mu.Lock()
	old := c.child
	c.mu.Unlock()
	if old != nil && !old.exited() {
		// A child of an earlier Start that runs but does not listen.
		c.endChild(ctx, old)
	}
	c.forget()
	p, err := spawn(c.start)
	if err != nil {
		return fmt.Errorf("start %s: %w", c, err)
	}
	foreground, err := c.waitUp(ctx, p)
	if err != nil {
		return fmt.Errorf("start %s: %w", c, err)
	}
	c.mu.Lock()
	c.started = true
	if foreground {
		c.child = p
	}
	c.mu.Unlock()
	return nil
}

// upByUs reports whether an earlier Start of c brought the service up and
// it still is: then Start has nothing to do.
func (c *command) upByUs(ctx context.Context) bool {
	c.mu.Lock()
	started, child := c.started, c.child
	c.mu.Unlock()
	switch {
	case !started:
		return false
	case len(c.o.ports) > 0:
		return accepting(ctx, c.o.ports)
	default:
		return child == nil || !child.failed()
	}
}

// waitUp waits until the service p started is up and reports whether p
// still runs then (a foreground daemon). When p fails, or ctx ends first,
// it ends p (or runs the stop command) and returns why.
func (c *command) waitUp(ctx context.Context, p *process) (foreground bool, err error) {
	grace := time.NewTimer(c.o.grace)
	defer grace.Stop()
	poll := time.NewTicker(readyPoll)
	defer poll.Stop()
	done := p.done
	for {
		select {
		case <-done:
			if p.err != nil {
				return false, fmt.Errorf("%w%s", p.err, p.output())
			}
			if len(c.o.ports) == 0 {
				return false, nil // daemonized
			}
			done = nil // daemonized: the ports decide from now on
		case <-grace.C:
			if len(c.o.ports) == 0 {
				return true, nil
			}
		case <-poll.C:
			if len(c.o.ports) > 0 && accepting(ctx, c.o.ports) {
				return !p.exited(), nil
			}
		case <-ctx.Done():
			err := fmt.Errorf("not up: %w", ctxErr(ctx))
			if len(c.o.ports) > 0 {
				err = fmt.Errorf("not up: no port of %s accepts connections on 127.0.0.1 or [::1]: %w", portList(c.o.ports), ctxErr(ctx))
			}
			if !p.exited() {
				p.kill(syscall.SIGKILL)
				<-p.done
				return false, fmt.Errorf("%w (killed it)%s", err, p.output())
			}
			// It daemonized but never listened: stop it again.
			if len(c.stop) > 0 {
				sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				defer cancel()
				if serr := runToEnd(sctx, c.stop); serr != nil {
					return false, fmt.Errorf("%w%s; then its stop command: %w", err, p.output(), serr)
				}
				return false, fmt.Errorf("%w%s (stopped it again)", err, p.output())
			}
			return false, fmt.Errorf("%w%s", err, p.output())
		}
	}
}

// Stop runs the stop command and ends a foreground child that outlives
// it, then waits until no ready port accepts. A service known to be down
// is left alone: with ready ports, no port accepts and no child runs;
// without, its foreground child failed. Otherwise Stop fails when the stop
// command fails, when there is no stop command to stop a service that is
// no child of c, or when a ready port still accepts as ctx ends.
func (c *command) Stop(ctx context.Context) error {
	c.op.Lock()
	defer c.op.Unlock()
	ctx, cancel := withTimeout(ctx, c.o.timeout)
	defer cancel()
	c.mu.Lock()
	started, child := c.started, c.child
	c.mu.Unlock()
	alive := child != nil && !child.exited()
	if !alive {
		var down bool
		if len(c.o.ports) > 0 {
			down = !accepting(ctx, c.o.ports)
		} else {
			down = child != nil && child.failed() || !started && len(c.stop) == 0
		}
		if down {
			c.forget()
			return nil
		}
		if len(c.stop) == 0 {
			return fmt.Errorf("stop %s: no stop command, and its start command is no longer running", c)
		}
	}
	if len(c.stop) > 0 {
		if err := runToEnd(ctx, c.stop); err != nil {
			return fmt.Errorf("stop %s: %w", c, err)
		}
	}
	if alive {
		c.endChild(ctx, child)
	}
	c.forget()
	if err := waitClosed(ctx, c.o.ports); err != nil {
		return fmt.Errorf("stop %s: %w", c, err)
	}
	return nil
}

// forget records that the service is stopped.
func (c *command) forget() {
	c.mu.Lock()
	c.started, c.child = false, nil
	c.mu.Unlock()
}

// endChild gives a foreground child a moment to exit after the stop
// command, then sends it SIGTERM, and SIGKILL when ctx ends; it returns
// once the child is reaped. Only the child is signalled, not its process
// group: sessions it forked (sshd's) live on.
func (c *command) endChild(ctx context.Context, p *process) {
	if len(c.stop) > 0 {
		t := time.NewTimer(time.Second)
		defer t.Stop()
		select {
		case <-p.done:
			return
		case <-t.C:
		case <-ctx.Done():
		}
	}
	p.kill(syscall.SIGTERM)
	select {
	case <-p.done:
		return
	case <-ctx.Done():
	}
	p.kill(syscall.SIGKILL)
	<-p.done
}

// Active reports whether a ready port accepts; without ready ports,
// whether Start succeeded, Stop has not run since and a foreground child
// did not fail (one that exits 0 is taken for a late daemonizer). It
// never fails.
func (c *command) Active(ctx context.Context) (bool, error) {
	if len(c.o.ports) > 0 {
		ctx, cancel := context.WithTimeout(ctx, queryTimeout)
		defer cancel()
		return accepting(ctx, c.o.ports), nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.started && (c.child == nil || !c.child.failed()), nil
}

// runToEnd runs argv and waits for it to exit 0; it fails with the
// command's exit status and the end of its output, or kills it when ctx
// ends first.
func runToEnd(ctx context.Context, argv []string) error {
	p, err := spawn(argv)
	if err != nil {
		return err
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		p.kill(syscall.SIGKILL)
		<-p.done
		return fmt.Errorf("%q did not finish (killed it): %w%s", argv[0], ctxErr(ctx), p.output())
	}
	if p.err != nil {
		return fmt.Errorf("%w%s", p.err, p.output())
	}
	return nil
}

// process is a started command.
type process struct {
	cmd     *exec.Cmd
	out     *tail
	drained chan struct{} // closed once nobody holds its output pipe any more
	done    chan struct{} // closed once it exited and was reaped
	err     error         // how it exited (nil: status 0); valid once done is closed
}

// spawn starts argv in a process group of its own, with stdin from
// /dev/null and stdout and stderr into one pipe that a goroutine drains
// for as long as anybody (a daemon it forked, too) holds it, keeping the
// end of the output. It fails when argv is empty or cannot be started.
func spawn(argv []string) (*process, error) {
	if len(argv) == 0 {
		return nil, errors.New("empty argv")
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("output pipe: %w", err)
	}
	p := &process{out: &tail{}, drained: make(chan struct{}), done: make(chan struct{})}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Stdout, p.cmd.Stderr = w, w
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = p.cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		return nil, err
	}
	go func() {
		io.Copy(p.out, r)
		r.Close()
		close(p.drained)
	}()
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether p has exited.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// failed reports whether p has exited with a non-zero status or by a signal.
func (p *process) failed() bool { return p.exited() && p.err != nil }

// output returns the end of p's output for an error message, as
// tail.suffix does, after giving the pipe a moment to be drained (a
// daemon p forked may hold it open for good).
func (p *process) output() string {
	t := time.NewTimer(100 * time.Millisecond)
	defer t.Stop()
	select {
	case <-p.drained:
	case <-t.C:
	}
	return p.out.suffix()
}

// kill sends sig to p unless it was reaped already.
func (p *process) kill(sig syscall.Signal) {
	if !p.exited() {
		p.cmd.Process.Signal(sig)
	}
}

// tailMax is how much of a command's output is kept.
const tailMax = 4096

// tailShow is how much of it goes into an error.
const tailShow = 512

// tail keeps the last tailMax bytes written to it.
type tail struct {
	mu  sync.Mutex
	buf []byte
	cut bool // bytes before buf were dropped
}

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - tailMax; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
		t.cut = true
	}
	return len(b), nil
}

// suffix returns ": OUTPUT" for an error message, the output trimmed and
// cut to its last tailShow bytes, or "" when there was none.
func (t *tail) suffix() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	text := strings.TrimSpace(string(t.buf))
	cut := t.cut
	if len(text) > tailShow {
		text, cut = strings.TrimSpace(strings.ToValidUTF8(text[len(text)-tailShow:], "")), true
	}
	if text == "" {
		return ""
	}
	if cut {
		text = "…" + text
	}
	return ": " + text
}
