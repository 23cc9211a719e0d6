package knock

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultEvery and DefaultTimeout are WaitOpen's usual pace and patience.
const (
	DefaultEvery   = 50 * time.Millisecond
	DefaultTimeout = 5 * time.Second
)

// attemptLife is how long one connection attempt may wait for an answer.
// It stays below Linux's initial SYN retransmission timeout (1 s), so every
// attempt sends one SYN; a fresh attempt every `every` takes over.
const attemptLife = 900 * time.Millisecond

// WaitOpen tries TCP connections to addr:port until one completes and
// returns how long that took from the call; the connection is closed at
// once. See DialOpen for how it tries and when it fails.
func WaitOpen(ctx context.Context, addr netip.Addr, port uint16, every, timeout time.Duration) (time.Duration, error) {
	conn, took, err := DialOpen(ctx, addr, port, every, timeout)
	if err != nil {
		return 0, err
	}
	conn.Close()
	return took, nil
}

// DialOpen tries TCP connections to addr:port until one completes and
// returns it with how long that took from the call. It starts an attempt
// at once and another every `every` (DefaultEvery when 0), each waiting up
// to 900 ms for an answer alongside the later ones, so a port that still
// drops or rejects costs at most `every` once it opens, and a slow path
// still gets its answer. It fails when no attempt succeeds within timeout
// (DefaultTimeout when 0), naming the last reason (refused, unreachable,
// no answer), or when ctx ends. All sockets are made and polled on the
// calling goroutine, so they belong to its network namespace.
func DialOpen(ctx context.Context, addr netip.Addr, port uint16, every, timeout time.Duration) (net.Conn, time.Duration, error) {
	if every <= 0 {
		every = DefaultEvery
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	to := netip.AddrPortFrom(addr, port)
	sa, err := sockaddr(addr, port)
	if err != nil {
		return nil, 0, fmt.Errorf("wait for %s: %w", to, err)
	}
	w := &waiter{sa: sa, domain: domain(addr), start: time.Now(), won: -1}
	defer w.closeAll()
	deadline := w.start.Add(timeout)
	life := max(attemptLife, every)
	next := w.start
	for {
		now := time.Now()
		if err := ctx.Err(); err != nil {
			return nil, 0, fmt.Errorf("wait for %s: %w", to, err)
		}
		if !now.Before(deadline) {
			return nil, 0, fmt.Errorf("wait for %s: not open after %v: %w", to, timeout, w.lastErr())
		}
		if !now.Before(next) {
			if err := w.try(now, life); err != nil {
				return nil, 0, fmt.Errorf("wait for %s: %w", to, err)
			}
			for !next.After(now) {
				next = next.Add(every)
			}
		}
		if w.won < 0 {
			w.expire(now)
			wake := next
			if deadline.Before(wake) {
				wake = deadline
			}
			if err := w.poll(time.Until(wake)); err != nil {
				return nil, 0, fmt.Errorf("wait for %s: %w", to, err)
			}
		}
		if w.won >= 0 {
			took := time.Since(w.start)
			f := os.NewFile(uintptr(w.won), to.String())
			w.won = -1
			conn, err := net.FileConn(f)
			f.Close() // FileConn made its own copy of the descriptor
			if err != nil {
				return nil, 0, fmt.Errorf("wait for %s: %w", to, err)
			}
			return conn, took, nil
		}
	}
}

// waiter holds the connection attempts in flight.
type waiter struct {
	sa       unix.Sockaddr
	domain   int
	start    time.Time
	attempts []attempt
	last     error // why the latest attempt that ended failed
	won      int   // the connected socket, or -1
}

// attempt is one non-blocking connect in flight.
type attempt struct {
	fd      int
	expires time.Time
}

// errNoAnswer is the reason of an attempt that got no answer in its time.
var errNoAnswer = errors.New("no answer (dropped?)")

func (w *waiter) lastErr() error {
	if w.last == nil {
		return errNoAnswer
	}
	return w.last
}

// try starts one attempt; a connection that completes at once becomes the
// winner. It fails only when no socket can be made.
func (w *waiter) try(now time.Time, life time.Duration) error {
	fd, err := socket(w.domain, unix.SOCK_STREAM, unix.IPPROTO_TCP)
	if err != nil {
		return fmt.Errorf("tcp socket: %w", err)
	}
	err = unix.Connect(fd, w.sa)
	switch {
	case err == nil:
		w.win(fd)
	case errors.Is(err, unix.EINPROGRESS):
		w.attempts = append(w.attempts, attempt{fd: fd, expires: now.Add(life)})
	default:
		unix.Close(fd)
		w.last = err
	}
	return nil
}

// win keeps fd as the connected socket; a later winner is closed.
func (w *waiter) win(fd int) {
	if w.won >= 0 {
		unix.Close(fd)
		return
	}
	w.won = fd
}

// expire gives up the attempts whose time is over. Closing a socket that
// is still in SYN-SENT sends nothing.
func (w *waiter) expire(now time.Time) {
	kept := w.attempts[:0]
	for _, a := range w.attempts {
		if now.Before(a.expires) {
			kept = append(kept, a)
			continue
		}
		unix.Close(a.fd)
		w.last = errNoAnswer
	}
	w.attempts = kept
}

// poll waits up to d for an attempt to finish; one that connected becomes
// the winner, and the reasons of those that failed are collected.
func (w *waiter) poll(d time.Duration) error {
	ms := int((d + time.Millisecond - 1) / time.Millisecond)
	if ms < 0 {
		ms = 0
	}
	if len(w.attempts) == 0 {
		if ms > 0 {
			time.Sleep(time.Duration(ms) * time.Millisecond)
		}
		return nil
	}
	fds := make([]unix.PollFd, len(w.attempts))
	for i, a := range w.attempts {
		fds[i] = unix.PollFd{Fd: int32(a.fd), Events: unix.POLLOUT}
	}
	n, err := unix.Poll(fds, ms)
	if errors.Is(err, unix.EINTR) || n == 0 {
		return nil
	}
	if err != nil {
		return fmt.Errorf("poll: %w", err)
	}
	kept := w.attempts[:0]
	for i, a := range w.attempts {
		if fds[i].Revents == 0 {
			kept = append(kept, a)
			continue
		}
		soErr, err := unix.GetsockoptInt(a.fd, unix.SOL_SOCKET, unix.SO_ERROR)
		switch {
		case err != nil:
			unix.Close(a.fd)
			w.last = fmt.Errorf("read socket error: %w", err)
		case soErr != 0:
			unix.Close(a.fd)
			w.last = unix.Errno(soErr)
		default:
			w.win(a.fd)
		}
	}
	w.attempts = kept
	return nil
}

// closeAll closes every attempt still in flight, and an unclaimed winner.
func (w *waiter) closeAll() {
	for _, a := range w.attempts {
		unix.Close(a.fd)
	}
	w.attempts = nil
	if w.won >= 0 {
		unix.Close(w.won)
		w.won = -1
	}
}
