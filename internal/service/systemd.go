package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
)

// systemd is a service that is a systemd unit, driven over D-Bus.
type systemd struct {
	unit string
	o    options

	mu   sync.Mutex // guards conn
	conn *sddbus.Conn
}

// Systemd returns a service that is the systemd unit named unit, started
// and stopped over the D-Bus system bus (never a systemctl subprocess):
// the bus at WithBusAddress, else DBUS_SYSTEM_BUS_ADDRESS's, else the
// default one. It connects on first use and again whenever the connection
// died. Start and Stop queue a job with mode "replace", wait for its
// result and read ActiveState back; Active reads ActiveState, which loads
// a unit systemd has unloaded. The returned value also has
// Check(ctx) ([]string, error), which warns about the unit's setup, and
// Close() error, which drops the bus connection. Systemd itself never
// fails: errors come from the calls.
func Systemd(unit string, opts ...Option) Service {
	return &systemd{unit: unit, o: newOptions(opts)}
}

// String names the service: `systemd unit "ssh.service"`.
func (s *systemd) String() string { return fmt.Sprintf("systemd unit %q", s.unit) }

// Start starts the unit, waits for its start job to end "done" and for the
// unit to be active, then for a ready port to accept. It fails when the
// bus cannot be reached, the unit does not exist, the job ends otherwise
// (its result is named), or the unit is not up before ctx ends.
func (s *systemd) Start(ctx context.Context) error {
	ctx, cancel := withTimeout(ctx, s.o.timeout)
	defer cancel()
	if err := s.job(ctx, "start", (*sddbus.Conn).StartUnitContext); err != nil {
		return err
	}
	state, err := s.state(ctx)
	if err != nil {
		return fmt.Errorf("start %s: %w", s, err)
	}
	if !up(state) {
		return fmt.Errorf("start %s: it is %s after its start job%s", s, state, s.why(ctx))
	}
	alive := func(ctx context.Context) error {
		state, err := s.state(ctx)
		if err == nil && !up(state) && state != "activating" {
			err = fmt.Errorf("it is %s now%s", state, s.why(ctx))
		}
		return err
	}
	if err := waitReady(ctx, s.o.ports, alive); err != nil {
		return fmt.Errorf("start %s: started, but %w", s, err)
	}
	return nil
}

// Stop stops the unit and waits for its stop job to end "done" and for
// the unit to be inactive (or failed). Stopping a stopped unit is not an
// error; stopping one that does not exist is, as is an unreachable bus.
func (s *systemd) Stop(ctx context.Context) error {
	ctx, cancel := withTimeout(ctx, s.o.timeout)
	defer cancel()
	if err := s.job(ctx, "stop", (*sddbus.Conn).StopUnitContext); err != nil {
		return err
	}
	state, err := s.state(ctx)
	if err != nil {
		return fmt.Errorf("stop %s: %w", s, err)
	}
	if state != "inactive" && state != "failed" {
		return fmt.Errorf("stop %s: it is %s after its stop job", s, state)
	}
	return nil
}

// Active reports whether the unit's ActiveState is "active" (or
// "reloading"). A unit systemd unloaded after it stopped is loaded again
// by the property read, so it answers false rather than failing; so does
// a unit that does not exist (Check says so). It fails when the bus
// cannot be reached or does not answer within queryTimeout.
func (s *systemd) Active(ctx context.Context) (bool, error) {
	state, err := s.state(ctx)
	if err != nil {
		return false, fmt.Errorf("%s: %w", s, err)
	}
	return up(state), nil
}

// up reports whether ActiveState means the unit runs.
func up(state string) bool { return state == "active" || state == "reloading" }

// Check returns warnings about the unit's setup: that it does not exist,
// or that its KillMode is not "process", which makes systemd kill every
// process of the unit on stop, so stopping it after the last grant would
// end the sessions it served (Debian's ssh.service has KillMode=process
// for this reason). It fails when the bus cannot be reached.
func (s *systemd) Check(ctx context.Context) ([]string, error) {
	load, err := s.property(ctx, "org.freedesktop.systemd1.Unit", "LoadState")
	if err != nil {
		return nil, fmt.Errorf("check %s: %w", s, err)
	}
	if load != "loaded" {
		return []string{fmt.Sprintf("%s is %s: starting it will fail", s, load)}, nil
	}
	mode, err := s.property(ctx, "org.freedesktop.systemd1.Service", "KillMode")
	if err != nil {
		// Not a service (a socket or target unit, say): nothing to check.
		return nil, nil
	}
	if mode != "process" {
		return []string{fmt.Sprintf("%s has KillMode=%s: stopping it after the last grant ends established sessions too; set KillMode=process", s, mode)}, nil
	}
	return nil, nil
}

// Close drops the bus connection; the next call connects again.
func (s *systemd) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
	return nil
}

// why returns what to add to an error about the unit not running: the
// service's Result when it has one, and where to look.
func (s *systemd) why(ctx context.Context) string {
	if r, err := s.property(ctx, "org.freedesktop.systemd1.Service", "Result"); err == nil && r != "success" {
		return fmt.Sprintf(" (result %s; see journalctl -u %s)", r, s.unit)
	}
	return fmt.Sprintf(" (see journalctl -u %s)", s.unit)
}

// state reads the unit's ActiveState.
func (s *systemd) state(ctx context.Context) (string, error) {
	return s.property(ctx, "org.freedesktop.systemd1.Unit", "ActiveState")
}

// property reads one string property of the unit's object on interface
// iface. Reading a property through the unit's object path loads the unit
// (GetUnit would fail for an unloaded one).
func (s *systemd) property(ctx context.Context, iface, name string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	var value string
	err := s.call(ctx, "read "+name, func(c *sddbus.Conn) error {
		var p *sddbus.Property
		var err error
		if iface == "org.freedesktop.systemd1.Service" {
			p, err = c.GetServicePropertyContext(ctx, s.unit, name)
		} else {
			p, err = c.GetUnitPropertyContext(ctx, s.unit, name)
		}
		if err != nil {
			return err
		}
		v, ok := p.Value.Value().(string)
		if !ok {
			return fmt.Errorf("it is %s, not a string", p.Value.Signature())
		}
		value = v
		return nil
	})
	return value, err
}

// job queues a start or stop job for the unit with mode "replace" and
// waits for its result; only "done" is success.
func (s *systemd) job(ctx context.Context, verb string, queue func(*sddbus.Conn, context.Context, string, string, chan<- string) (int, error)) error {
	result := make(chan string, 1)
	var conn *sddbus.Conn
	err := s.call(ctx, "", func(c *sddbus.Conn) error {
		conn = c
		_, err := queue(c, ctx, s.unit, "replace", result)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s %s: %w", verb, s, err)
	}
	// The job's end comes as a signal on the connection: should the
	// connection die meanwhile, that signal never arrives.
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case r := <-result:
			if r != "done" {
				return fmt.Errorf("%s %s: %s job ended %q%s", verb, s, verb, r, s.why(ctx))
			}
			return nil
		case <-t.C:
			if !conn.Connected() {
				return fmt.Errorf("%s %s: bus connection lost while waiting for the %s job", verb, s, verb)
			}
		case <-ctx.Done():
			return fmt.Errorf("%s %s: waiting for the %s job: %w", verb, s, verb, ctxErr(ctx))
		}
	}
}

// call runs f on a live bus connection; f's error is prefixed with what
// unless what is "". When f fails because the connection died under it,
// call connects again and retries f once: every f here is a query or a job
// queued with mode "replace", so a retry is harmless.
func (s *systemd) call(ctx context.Context, what string, f func(*sddbus.Conn) error) error {
	c, err := s.bus(ctx)
	if err != nil {
		return err
	}
	err = f(c)
	if err != nil && !c.Connected() && ctx.Err() == nil {
		if c, err = s.bus(ctx); err != nil {
			return err
		}
		err = f(c)
	}
	if err != nil && what != "" {
		return fmt.Errorf("%s: %w", what, err)
	}
	return err
}

// bus returns a live connection to the system bus, connecting when there
// is none or the last one died.
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
	conn, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	s.conn = conn
	return conn, nil
}

// connect opens the two connections go-systemd wants (calls and signals).
// A godbus connection lives as long as the context it was dialled with, so
// the connections get a context of their own that ends only when ctx ends
// before they are set up: a stuck bus cannot hold connect beyond ctx, and
// a working connection outlives the call that made it.
func (s *systemd) connect(ctx context.Context) (*sddbus.Conn, error) {
	life, cancel := context.WithCancel(context.Background())
	stop := context.AfterFunc(ctx, cancel)
	var conn *sddbus.Conn
	var err error
	if s.o.busAddr == "" {
		// Honours DBUS_SYSTEM_BUS_ADDRESS.
		conn, err = sddbus.NewSystemConnectionContext(life)
	} else {
		conn, err = sddbus.NewConnection(func() (*dbus.Conn, error) { return dial(life, s.o.busAddr) })
	}
	if !stop() {
		// ctx ended while connecting.
		if err == nil {
			conn.Close()
		}
		err = errors.Join(ctxErr(ctx), err)
	}
	if err != nil {
		cancel()
		return nil, fmt.Errorf("connect to the system bus: %w", err)
	}
	return conn, nil
}

// dial opens an authenticated connection to the bus at addr, as
// go-systemd does for the system bus.
func dial(ctx context.Context, addr string) (*dbus.Conn, error) {
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
