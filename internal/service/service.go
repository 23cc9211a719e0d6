// Package service starts, stops and queries the service a managed door
// guards: a systemd unit driven over D-Bus (never a systemctl subprocess),
// or a pair of start/stop argv commands run without a shell. A service
// counts as up once it runs and, when the door protects TCP ports, one of
// them accepts connections locally, so a knocker granted at that moment
// finds a listener.
package service

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"
)

// Service is what a door starts on its first grant and stops when its last
// grant ends.
type Service interface {
	// Start returns once the service is up, or fails when it cannot be
	// started or does not come up before ctx ends.
	Start(ctx context.Context) error
	// Stop returns once the service is stopped; stopping a stopped service
	// is not an error.
	Stop(ctx context.Context) error
	// Active reports whether the service is up now.
	Active(ctx context.Context) (bool, error)
	// String names the service for logs.
	String() string
}

// Option tunes a Service.
type Option func(*options)

type options struct {
	ports   []uint16
	busAddr string
}

// WithReadyPorts makes a service count as up only once one of these TCP
// ports accepts a connection on 127.0.0.1 or [::1].
func WithReadyPorts(ports ...uint16) Option { return func(o *options) { o.ports = ports } }

// WithBusAddress makes a systemd service talk to the D-Bus system bus at
// addr (e.g. "unix:path=/run/dbus/system_bus_socket") instead of the one
// DBUS_SYSTEM_BUS_ADDRESS or the default names.
func WithBusAddress(addr string) Option { return func(o *options) { o.busAddr = addr } }

func newOptions(opts []Option) options {
	var o options
	for _, f := range opts {
		f(&o)
	}
	return o
}

// readyPoll is how often a starting service's ports are tried.
const readyPoll = 5 * time.Millisecond

// accepting reports whether one of ports accepts a TCP connection locally.
func accepting(ctx context.Context, ports []uint16) bool {
	d := net.Dialer{Timeout: 200 * time.Millisecond}
	for _, p := range ports {
		for _, a := range []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1}), netip.IPv6Loopback()} {
			c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(a.String(), strconv.Itoa(int(p))))
			if err == nil {
				c.Close()
				return true
			}
		}
	}
	return false
}

// waitAccepting polls until one of ports accepts, or fails when ctx ends.
func waitAccepting(ctx context.Context, what string, ports []uint16) error {
	if len(ports) == 0 {
		return nil
	}
	t := time.NewTicker(readyPoll)
	defer t.Stop()
	for !accepting(ctx, ports) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: started, but no port of %v accepts connections: %w", what, ports, ctx.Err())
		case <-t.C:
		}
	}
	return nil
}
