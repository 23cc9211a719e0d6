package service

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// command is a service started and stopped by argv commands.
type command struct {
	start, stop []string
	o           options

	mu      sync.Mutex
	started bool // Start succeeded and Stop has not run since
}

// Command returns a service run by two argv lists, without a shell: start
// must start the service and exit 0 (programs such as sshd daemonize), stop
// must stop it. With WithReadyPorts, the service is up once a port accepts,
// which also lets a restarted monitor see a service started before it.
func Command(start, stop []string, opts ...Option) Service {
	return &command{start: start, stop: stop, o: newOptions(opts)}
}

func (c *command) String() string { return fmt.Sprintf("command %q", c.start) }

// Start runs the start command and waits for the ready ports.
func (c *command) Start(ctx context.Context) error {
	if err := run(ctx, c.start); err != nil {
		return fmt.Errorf("start %s: %w", c, err)
	}
	if err := waitAccepting(ctx, "start "+c.String(), c.o.ports); err != nil {
		return err
	}
	c.mu.Lock()
	c.started = true
	c.mu.Unlock()
	return nil
}

// Stop runs the stop command and waits until no ready port accepts.
func (c *command) Stop(ctx context.Context) error {
	if err := run(ctx, c.stop); err != nil {
		return fmt.Errorf("stop %s: %w", c, err)
	}
	c.mu.Lock()
	c.started = false
	c.mu.Unlock()
	for len(c.o.ports) > 0 && accepting(ctx, c.o.ports) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("stop %s: its port still accepts: %w", c, ctx.Err())
		case <-time.After(readyPoll):
		}
	}
	return nil
}

// Active reports whether a ready port accepts; without ready ports,
// whether Start succeeded and Stop has not run since.
func (c *command) Active(ctx context.Context) (bool, error) {
	if len(c.o.ports) > 0 {
		return accepting(ctx, c.o.ports), nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.started, nil
}

// run runs argv to completion and fails with its output when it exits
// non-zero.
func run(ctx context.Context, argv []string) error {
	if len(argv) == 0 {
		return fmt.Errorf("no command")
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		text := strings.TrimSpace(string(out))
		if len(text) > 500 {
			text = text[:500] + "…"
		}
		if text != "" {
			return fmt.Errorf("%w: %s", err, text)
		}
		return err
	}
	return nil
}
