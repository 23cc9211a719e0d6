package netns

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Listener is a TCP echo server inside a namespace: it accepts connections
// in the background and sends back whatever they send.
type Listener struct {
	ln       net.Listener
	port     uint16
	accepted atomic.Int64

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// Listen opens a TCP echo listener inside n on port (0 picks a free one)
// on every IPv4 and IPv6 address, and closes it with its connections in
// t.Cleanup; it fails the test when the port cannot be bound.
func (n *NS) Listen(t testing.TB, port uint16) *Listener {
	t.Helper()
	var ln net.Listener
	err := n.Do(func() error {
		var err error
		ln, err = net.Listen("tcp", fmt.Sprintf(":%d", port))
		return err
	})
	if err != nil {
		t.Fatalf("netns: namespace %q: listen on port %d: %v", n.Name, port, err)
	}
	l := &Listener{
		ln:    ln,
		port:  uint16(ln.Addr().(*net.TCPAddr).Port),
		conns: make(map[net.Conn]struct{}),
	}
	l.wg.Add(1)
	go l.serve()
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// serve accepts connections until the listener is closed.
func (l *Listener) serve() {
	defer l.wg.Done()
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(time.Millisecond) // transient, such as EMFILE
			continue
		}
		l.accepted.Add(1)
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			_ = conn.Close()
			return
		}
		l.conns[conn] = struct{}{}
		l.wg.Add(1)
		l.mu.Unlock()
		go l.echo(conn)
	}
}

// echo copies conn's input back to it until either side closes.
func (l *Listener) echo(conn net.Conn) {
	defer l.wg.Done()
	_, _ = io.Copy(conn, conn)
	_ = conn.Close()
	l.mu.Lock()
	delete(l.conns, conn)
	l.mu.Unlock()
}

// Port returns the port the listener is bound to.
func (l *Listener) Port() uint16 { return l.port }

// Accepted returns how many connections the listener has accepted so far.
func (l *Listener) Accepted() int { return int(l.accepted.Load()) }

// Close stops accepting, closes every open connection and waits for the
// background goroutines; it returns the listener's close error, and nil
// when called again.
func (l *Listener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	err := l.ln.Close()
	for conn := range l.conns {
		_ = conn.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
	if err != nil {
		return fmt.Errorf("close listener on port %d: %w", l.port, err)
	}
	return nil
}
