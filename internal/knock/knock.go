package knock

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/ruleset"
)

// Step is one knock: a port and a protocol. It is the spec's own step type,
// so it parses "7000/tcp", knockd's "7000:udp" and a bare "7000" (tcp).
type Step = compiler.Step

// DefaultDelay is the pause between two knocks. Knocks sent back to back can
// overtake one another on a network that spreads packets over several paths
// or queues (ECMP, bonded links, TCP and UDP in different queues), and a
// strict door restarts on a knock out of order. 10 ms keeps them in order
// while a 16-step sequence still takes only 150 ms, far below the shortest
// step_timeout a spec allows (100 ms per step).
const DefaultDelay = 10 * time.Millisecond

// Payload is what a UDP knock carries.
const Payload = "knockc"

// Resolver looks up a host name; *net.Resolver satisfies it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Options tune a knock. The zero value knocks with no delay, over whichever
// family the host name resolves to first, through net.DefaultResolver.
type Options struct {
	// Delay is the pause between two knocks (see DefaultDelay).
	Delay time.Duration
	// Network is "ip" or "" (any family), "ip4" or "ip6".
	Network string
	// Resolver looks up host names; nil means net.DefaultResolver.
	Resolver Resolver
	// Sent, if set, is called after each knock has left its socket.
	Sent func(to netip.AddrPort, step Step)
}

// ParseSteps parses knock steps written as "7000/tcp", "7000:udp" or
// "7000"; it fails on the first one that is not a port from 1 to 65535
// with an optional tcp or udp.
func ParseSteps(args []string) ([]Step, error) {
	if len(args) == 0 {
		return nil, errors.New("parse steps: no steps")
	}
	steps := make([]Step, len(args))
	for i, a := range args {
		if err := steps[i].UnmarshalText([]byte(a)); err != nil {
			return nil, fmt.Errorf("parse step %d: %w", i+1, err)
		}
	}
	return steps, nil
}

// Knock resolves host (see Resolve) and sends steps to it in order (see
// KnockAddr). It fails when host cannot be resolved or a knock cannot be
// sent, and stops early when ctx ends.
func Knock(ctx context.Context, host string, steps []Step, opts Options) error {
	addr, err := Resolve(ctx, host, opts)
	if err != nil {
		return err
	}
	return KnockAddr(ctx, addr, steps, opts)
}

// KnockAddr sends steps to addr in order, opts.Delay apart: one SYN per TCP
// step, one datagram per UDP step. It fails when a socket cannot be made or
// a knock cannot be sent (no route, say), naming the step, and returns
// ctx's error when ctx ends first. It does not wait for anything: a knock
// gets no answer a client could rely on.
func KnockAddr(ctx context.Context, addr netip.Addr, steps []Step, opts Options) error {
	if len(steps) == 0 {
		return fmt.Errorf("knock %s: no steps", addr)
	}
	for i, s := range steps {
		if i > 0 && opts.Delay > 0 {
			if err := sleep(ctx, opts.Delay); err != nil {
				return fmt.Errorf("knock %s: %w", addr, err)
			}
		} else if err := ctx.Err(); err != nil {
			return fmt.Errorf("knock %s: %w", addr, err)
		}
		var err error
		if s.Proto == ruleset.UDP {
			err = sendUDP(addr, s.Port)
		} else {
			err = SendSYN(netip.Addr{}, addr, s.Port)
		}
		to := netip.AddrPortFrom(addr, s.Port)
		if err != nil {
			return fmt.Errorf("knock %s/%s (step %d of %d): %w", to, s.Proto, i+1, len(steps), err)
		}
		if opts.Sent != nil {
			opts.Sent(to, s)
		}
	}
	return nil
}

// sleep waits for d or until ctx ends, without starting a goroutine.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// hostLiteral returns host as an address when it is an IP literal, with or
// without brackets around an IPv6 address.
func hostLiteral(host string) (netip.Addr, bool) {
	h := host
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	a, err := netip.ParseAddr(h)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}
