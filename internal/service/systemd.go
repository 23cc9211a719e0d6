package service

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
)

// systemd is a service that is a systemd unit, driven over D-Bus.
type systemd struct {
	unit string
	o    options

	mu   sync.Mutex
	conn *sddbus.Conn
}

// Systemd returns a service that is a systemd unit, started and stopped
// over the D-Bus system bus (never through a systemctl subprocess). It
// connects on first use and again whenever the bus connection died.
func Systemd(unit string, opts ...Option) Service {
	return &systemd{unit: unit, o: newOptions(opts)}
}

func (s *systemd) String() string { return fmt.Sprintf("systemd unit %q", s.unit) }

// bus returns a live connection to the system bus.
func (s *systemd) bus(ctx context.Context) (*sddbus.Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil && s.conn.Connected() {
		return s.conn, nil
	}
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
	var conn *sddbus.Conn
	var err error
	if s.o.busAddr == "" {
		conn, err = sddbus.NewSystemConnectionContext(ctx)
	} else {
		conn, err = sddbus.NewConnection(func() (*dbus.Conn, error) { return dialBus(ctx, s.o.busAddr) })
	}
	if err != nil {
		return nil, fmt.Errorf("%s: connect to the system bus: %w", s, err)
	}
	s.conn = conn
	return conn, nil
}

// dialBus opens an authenticated connection to the bus at addr.
func dialBus(ctx context.Context, addr string) (*dbus.Conn, error) {
	conn, err := dbus.Dial(addr, dbus.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	if err := conn.Auth([]dbus.Auth{dbus.AuthExternal(strconv.Itoa(os.Getuid()))}); err != nil {
		conn.Close()
		return nil, err
	}
	if err := conn.Hello(); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// Start starts the unit, waits for its job to finish and for the unit to
// be active, then for the ready ports.
func (s *systemd) Start(ctx context.Context) error {
	if err := s.job(ctx, "start", func(c *sddbus.Conn, ch chan<- string) (int, error) {
		return c.StartUnitContext(ctx, s.unit, "replace", ch)
	}); err != nil {
		return err
	}
	state, err := s.state(ctx)
	if err != nil {
		return err
	}
	if state != "active" {
		return fmt.Errorf("start %s: it is %s after its start job", s, state)
	}
	return waitAccepting(ctx, "start "+s.String(), s.o.ports)
}

// Stop stops the unit and waits for its job to finish.
func (s *systemd) Stop(ctx context.Context) error {
	return s.job(ctx, "stop", func(c *sddbus.Conn, ch chan<- string) (int, error) {
		return c.StopUnitContext(ctx, s.unit, "replace", ch)
	})
}

// Active reports whether the unit's ActiveState is "active". A unit that
// was stopped and unloaded is loaded again by the property read, so it
// answers false rather than failing.
func (s *systemd) Active(ctx context.Context) (bool, error) {
	state, err := s.state(ctx)
	return state == "active", err
}

func (s *systemd) state(ctx context.Context) (string, error) {
	c, err := s.bus(ctx)
	if err != nil {
		return "", err
	}
	p, err := c.GetUnitPropertyContext(ctx, s.unit, "ActiveState")
	if err != nil {
		return "", fmt.Errorf("%s: read ActiveState: %w", s, err)
	}
	return strings.Trim(p.Value.String(), `"`), nil
}

// job queues a start or stop job and waits for its result.
func (s *systemd) job(ctx context.Context, verb string, queue func(*sddbus.Conn, chan<- string) (int, error)) error {
	c, err := s.bus(ctx)
	if err != nil {
		return err
	}
	ch := make(chan string, 1)
	if _, err := queue(c, ch); err != nil {
		return fmt.Errorf("%s %s: %w", verb, s, err)
	}
	select {
	case result := <-ch:
		if result != "done" {
			return fmt.Errorf("%s %s: job %s (see journalctl -u %s)", verb, s, result, s.unit)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s %s: %w", verb, s, ctx.Err())
	}
}

// Check returns warnings about the unit's setup: a KillMode other than
// "process" makes systemd kill every process of the unit on stop, so
// stopping it after the last grant would end the sessions it served
// (Debian's ssh.service has KillMode=process for this reason).
func (s *systemd) Check(ctx context.Context) ([]string, error) {
	c, err := s.bus(ctx)
	if err != nil {
		return nil, err
	}
	p, err := c.GetServicePropertyContext(ctx, s.unit, "KillMode")
	if err != nil {
		return nil, fmt.Errorf("%s: read KillMode: %w", s, err)
	}
	if mode := strings.Trim(p.Value.String(), `"`); mode != "process" {
		return []string{fmt.Sprintf("%s has KillMode=%s: stopping it after the last grant ends established sessions too; set KillMode=process", s, mode)}, nil
	}
	return nil, nil
}
