package service

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Service is the thing a door starts on its first grant and stops when its
// last grant ends.
type Service interface {
	// Start returns once the service is up; it fails when the service
	// cannot be started or is not up before ctx (or the timeout) ends.
	Start(ctx context.Context) error
	// Stop returns once the service is stopped; stopping a stopped service
	// is not an error. It fails when the service cannot be stopped in time.
	Stop(ctx context.Context) error
	// Active reports whether the service is up now; it fails only when
	// that cannot be found out (e.g. the bus is unreachable).
	Active(ctx context.Context) (bool, error)
	// String names the service for logs and errors.
	String() string
}

// DefaultTimeout bounds each Start and Stop unless WithTimeout says
// otherwise; it is systemd's own default start timeout.
const DefaultTimeout = 90 * time.Second

// DefaultGrace is how long a start command may run before Command takes it
// for a foreground daemon, unless WithGrace says otherwise.
const DefaultGrace = 500 * time.Millisecond

// queryTimeout bounds each Active call and each query made inside Start
// and Stop: a query that takes longer means the bus is stuck.
const queryTimeout = 10 * time.Second

// readyPoll is how often a starting service's ports are tried.
const readyPoll = 5 * time.Millisecond

// dialTimeout bounds one connect of the readiness probe.
const dialTimeout = 200 * time.Millisecond

// Option tunes a Service.
type Option func(*options)

type options struct {
	ports   []uint16
	busAddr string
	timeout time.Duration
	grace   time.Duration
}

// WithReadyPorts makes a service count as up only once one of these TCP
// ports accepts a connection on 127.0.0.1 or [::1]; UDP ports cannot be
// probed and must not be passed. For a Command, Active then follows the
// ports too, so a new Command value sees a service started before it.
func WithReadyPorts(ports ...uint16) Option {
	return func(o *options) { o.ports = append([]uint16(nil), ports...) }
}

// WithBusAddress makes a Systemd service talk to the D-Bus system bus at
// addr (e.g. "unix:path=/run/dbus/system_bus_socket") instead of the one
// DBUS_SYSTEM_BUS_ADDRESS or the default path names; Command ignores it.
func WithBusAddress(addr string) Option { return func(o *options) { o.busAddr = addr } }

// WithTimeout bounds each Start and Stop by d on top of their context
// (DefaultTimeout when d is 0 or less).
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithGrace sets how long a Command's start argv may run before it is
// taken for a foreground daemon and kept as a child (DefaultGrace when d
// is 0 or less); Systemd ignores it. With ready ports, a listening port
// makes the service up at once, grace or not.
func WithGrace(d time.Duration) Option { return func(o *options) { o.grace = d } }

func newOptions(opts []Option) options {
	var o options
	for _, f := range opts {
		f(&o)
	}
	if o.timeout <= 0 {
		o.timeout = DefaultTimeout
	}
	if o.grace <= 0 {
		o.grace = DefaultGrace
	}
	return o
}

// loopbacks are where the readiness probe connects.
var loopbacks = []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1}), netip.IPv6Loopback()}

// accepting reports whether one of ports accepts a TCP connection on a
// loopback address of the calling thread's network namespace.
func accepting(ctx context.Context, ports []uint16) bool {
	d := net.Dialer{Timeout: dialTimeout}
	for _, p := range ports {
		for _, a := range loopbacks {
			c, err := d.DialContext(ctx, "tcp", netip.AddrPortFrom(a, p).String())
			if err == nil {
				c.Close()
				return true
			}
		}
	}
	return false
}

// waitReady polls every readyPoll until one of ports accepts; every
// aliveEvery it asks alive (when not nil), which fails the wait early when
// the service died on the way. It fails when ctx ends first.
func waitReady(ctx context.Context, ports []uint16, alive func(context.Context) error) error {
	if len(ports) == 0 {
		return nil
	}
	const aliveEvery = 100 * time.Millisecond
	t := time.NewTicker(readyPoll)
	defer t.Stop()
	lastAlive := time.Now()
	for !accepting(ctx, ports) {
		if alive != nil && time.Since(lastAlive) >= aliveEvery {
			lastAlive = time.Now()
			if err := alive(ctx); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no port of %s accepts connections on 127.0.0.1 or [::1]: %w", portList(ports), ctxErr(ctx))
		case <-t.C:
		}
	}
	return nil
}

// waitClosed polls until no port of ports accepts any more; it fails when
// ctx ends first.
func waitClosed(ctx context.Context, ports []uint16) error {
	if len(ports) == 0 {
		return nil
	}
	t := time.NewTicker(readyPoll)
	defer t.Stop()
	for accepting(ctx, ports) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("a port of %s still accepts connections: %w", portList(ports), ctxErr(ctx))
		case <-t.C:
		}
	}
	return nil
}

// portList writes ports as "22/tcp, 2222/tcp".
func portList(ports []uint16) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(int(p)) + "/tcp"
	}
	return strings.Join(s, ", ")
}

// withTimeout bounds ctx by d; ctxErr then says which bound ended it.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, d, fmt.Errorf("timeout %v", d))
}

// ctxErr is ctx.Err(), preceded by the cause withTimeout gave it.
func ctxErr(ctx context.Context) error {
	err, cause := ctx.Err(), context.Cause(ctx)
	if err == nil || cause == nil || cause == err {
		return err
	}
	return fmt.Errorf("%w: %w", cause, err)
}
