package knock

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
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
// returns how long that took from the call. It starts an attempt at once
// and another every `every` (DefaultEvery when 0), each waiting up to
// 900 ms for an answer alongside the later ones, so a port that still
// drops or rejects costs at most `every` once it opens, and a slow path
// still gets its answer. The connection that succeeds is closed at once.
// It fails when no attempt succeeds within timeout (DefaultTimeout when 0),
// naming the last reason (refused, unreachable, no answer), or when ctx
// ends. All sockets are made and polled on the calling goroutine.
func WaitOpen(ctx context.Context, addr netip.Addr, port uint16, every, timeout time.Duration) (time.Duration, error) {
	if every <= 0 {
		every = DefaultEvery
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	to := netip.AddrPortFrom(addr, port)
	sa, err := sockaddr(addr, port)
	if err != nil {
		return 0, fmt.Errorf("wait for %s: %w", to, err)
	}
	w := &waiter{sa: sa, domain: domain(addr), start: time.Now()}
	defer w.closeAll()
	deadline := w.start.Add(timeout)
	life := max(attemptLife, every)
	next := w.start
	for {
		now := time.Now()
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("wait for %s: %w", to, err)
		}
		if !now.Before(deadline) {
			return 0, fmt.Errorf("wait for %s: not open after %v: %w", to, timeout, w.lastErr())
		}
		if !now.Before(next) {
			if ok, err := w.try(now, life); err != nil {
				return 0, fmt.Errorf("wait for %s: %w", to, err)
			} else if ok {
				return time.Since(w.start), nil
			}
			for !next.After(now) {
				next = next.Add(every)
			}
		}
		w.expire(now)
		wake := next
		if deadline.Before(wake) {
			wake = deadline
		}
		if ok, err := w.poll(time.Until(wake)); err != nil {
			return 0, fmt.Errorf("wait for %s: %w", to, err)
		} else if ok {
			return time.Since(w.start), nil
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

// try starts one attempt; it reports true when the connection completed at
// once, and fails only when no socket can be made.
func (w *waiter) try(now time.Time, life time.Duration) (bool, error) {
	fd, err := unix.Socket(w.domain, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		return false, fmt.Errorf("tcp socket: %w", err)
	}
	err = unix.Connect(fd, w.sa)
	switch {
	case err == nil:
		unix.Close(fd)
		return true, nil
	case errors.Is(err, unix.EINPROGRESS):
		w.attempts = append(w.attempts, attempt{fd: fd, expires: now.Add(life)})
	default:
		unix.Close(fd)
		w.last = err
	}
	return false, nil
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

// poll waits up to d for an attempt to finish; it reports true when one
// connected, and collects the reasons of those that failed.
func (w *waiter) poll(d time.Duration) (bool, error) {
	ms := int((d + time.Millisecond - 1) / time.Millisecond)
	if ms < 0 {
		ms = 0
	}
	if len(w.attempts) == 0 {
		if ms > 0 {
			time.Sleep(time.Duration(ms) * time.Millisecond)
		}
		return false, nil
	}
	fds := make([]unix.PollFd, len(w.attempts))
	for i, a := range w.attempts {
		fds[i] = unix.PollFd{Fd: int32(a.fd), Events: unix.POLLOUT}
	}
	n, err := unix.Poll(fds, ms)
	if errors.Is(err, unix.EINTR) || n == 0 {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("poll: %w", err)
	}
	kept := w.attempts[:0]
	connected := false
	for i, a := range w.attempts {
		if fds[i].Revents == 0 {
			kept = append(kept, a)
			continue
		}
		soErr, err := unix.GetsockoptInt(a.fd, unix.SOL_SOCKET, unix.SO_ERROR)
		unix.Close(a.fd)
		switch {
		case err != nil:
			w.last = fmt.Errorf("read socket error: %w", err)
		case soErr != 0:
			w.last = unix.Errno(soErr)
		default:
			connected = true
		}
	}
	w.attempts = kept
	return connected, nil
}

// closeAll closes every attempt still in flight.
func (w *waiter) closeAll() {
	for _, a := range w.attempts {
		unix.Close(a.fd)
	}
	w.attempts = nil
}
