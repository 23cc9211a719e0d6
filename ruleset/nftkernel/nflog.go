package nftkernel

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"syscall"
	"time"

	nflog "github.com/florianl/go-nflog/v2"
)

// LogEvent is one packet the kernel logged to an NFLOG group: knockc's
// rules log the packet that completes a sequence, with a prefix naming the
// door and the sequence.
type LogEvent struct {
	Prefix string
	Addr   netip.Addr // the packet's source address
	At     time.Time  // when knockc received it
}

// LogListener receives NFLOG events of one group.
type LogListener struct {
	nf     *nflog.Nflog
	ns     *os.File
	cancel context.CancelFunc
	lost   chan struct{}
}

// ListenLog binds NFLOG group in the network namespace netns ("" for the
// caller's) and sends every event to out until ctx ends or Close is called.
// The kernel hands each event over at once (queue threshold 1), not after
// its default batching of up to a second. Events that do not fit in the
// socket buffer are lost; Lost then signals, so the caller can reconcile
// from the sets. It fails when the group cannot be bound (no privilege,
// or another process holds it).
func ListenLog(ctx context.Context, netns string, group uint16, out chan<- LogEvent) (*LogListener, error) {
	l := &LogListener{lost: make(chan struct{}, 1)}
	cfg := &nflog.Config{
		Group:    group,
		Copymode: nflog.CopyPacket,
		Bufsize:  64, // the IPv4 or IPv6 header is all knockc reads
		QThresh:  1,
	}
	if netns != "" {
		f, err := openNetNS(netns)
		if err != nil {
			return nil, fmt.Errorf("listen on nflog group %d: %w", group, err)
		}
		l.ns = f
		cfg.NetNS = int(f.Fd())
	}
	nf, err := nflog.Open(cfg)
	if err != nil {
		l.closeNS()
		return nil, fmt.Errorf("listen on nflog group %d: %w", group, err)
	}
	l.nf = nf
	ctx, l.cancel = context.WithCancel(ctx)
	hook := func(a nflog.Attribute) int {
		if a.Prefix == nil || a.Payload == nil {
			return 0
		}
		addr, ok := sourceAddr(*a.Payload)
		if !ok {
			return 0
		}
		select {
		case out <- LogEvent{Prefix: *a.Prefix, Addr: addr, At: time.Now()}:
		case <-ctx.Done():
			return 1
		}
		return 0
	}
	onErr := func(err error) int {
		if ctx.Err() != nil {
			return 1
		}
		if errors.Is(err, syscall.ENOBUFS) {
			select {
			case l.lost <- struct{}{}:
			default:
			}
		}
		return 0
	}
	if err := nf.RegisterWithErrorFunc(ctx, hook, onErr); err != nil {
		l.Close()
		return nil, fmt.Errorf("listen on nflog group %d: %w", group, err)
	}
	return l, nil
}

// Lost signals (at most one pending signal) when the kernel dropped events
// because the socket buffer was full.
func (l *LogListener) Lost() <-chan struct{} { return l.lost }

// Close stops listening. The context is cancelled first, as go-nflog's
// Close blocks until its reader has stopped.
func (l *LogListener) Close() error {
	if l.cancel != nil {
		l.cancel()
	}
	var err error
	if l.nf != nil {
		err = l.nf.Close()
		l.nf = nil
	}
	l.closeNS()
	return err
}

func (l *LogListener) closeNS() {
	if l.ns != nil {
		l.ns.Close()
		l.ns = nil
	}
}

// sourceAddr reads the source address of an IPv4 or IPv6 packet.
func sourceAddr(pkt []byte) (netip.Addr, bool) {
	if len(pkt) < 1 {
		return netip.Addr{}, false
	}
	switch pkt[0] >> 4 {
	case 4:
		if len(pkt) >= 20 {
			return netip.AddrFrom4([4]byte(pkt[12:16])), true
		}
	case 6:
		if len(pkt) >= 40 {
			return netip.AddrFrom16([16]byte(pkt[8:24])), true
		}
	}
	return netip.Addr{}, false
}
