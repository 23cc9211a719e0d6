package nftkernel

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	nfqueue "github.com/florianl/go-nfqueue/v2"
	"github.com/knockc/knockc/ruleset"
)

// HeldPacket is a packet the kernel queued for knockc: a pending knocker's
// packet to a protected port, waiting for its service to come up.
type HeldPacket struct {
	ID    uint32
	Src   netip.Addr
	Port  uint16
	Proto ruleset.Proto
	At    time.Time
}

// QueueListener receives the packets of one NFQUEUE queue and gives their
// verdicts.
type QueueListener struct {
	nf       *nfqueue.Nfqueue
	ns       *os.File
	cancel   context.CancelFunc
	num      uint16
	overflow atomic.Uint64
}

// queueCopy is how much of a packet is copied to knockc: the IP and TCP or
// UDP headers (the zero copy mode would deliver nothing).
const queueCopy = 128

// ListenQueue binds NFQUEUE queue num in network namespace netns ("" for
// the caller's) and sends every queued packet to out. The kernel holds at
// most maxLen packets (more are dropped and counted by the kernel); a
// packet that finds out full is dropped at once and counted in Overflow.
// The queue is bound without fail-open: when knockc is not bound, the
// kernel drops queued packets, so nothing passes unchecked. It fails when
// the queue cannot be bound.
func ListenQueue(ctx context.Context, netns string, num uint16, maxLen uint32, out chan<- HeldPacket) (*QueueListener, error) {
	q := &QueueListener{num: num}
	cfg := &nfqueue.Config{
		NfQueue:      num,
		MaxQueueLen:  maxLen,
		MaxPacketLen: queueCopy,
		Copymode:     nfqueue.NfQnlCopyPacket,
		WriteTimeout: time.Second,
	}
	if netns != "" {
		f, err := openNetNS(netns)
		if err != nil {
			return nil, fmt.Errorf("listen on nfqueue %d: %w", num, err)
		}
		q.ns = f
		cfg.NetNS = int(f.Fd())
	}
	nf, err := nfqueue.Open(cfg)
	if err != nil {
		q.closeNS()
		return nil, fmt.Errorf("listen on nfqueue %d: %w", num, err)
	}
	q.nf = nf
	ctx, q.cancel = context.WithCancel(ctx)
	hook := func(a nfqueue.Attribute) int {
		if a.PacketID == nil {
			return 0
		}
		id := *a.PacketID
		var hp HeldPacket
		ok := a.Payload != nil
		if ok {
			hp, ok = parseHeld(*a.Payload)
		}
		if !ok {
			nf.SetVerdict(id, nfqueue.NfDrop) // not a packet knockc queues
			return 0
		}
		hp.ID, hp.At = id, time.Now()
		select {
		case out <- hp:
		default:
			q.overflow.Add(1)
			nf.SetVerdict(id, nfqueue.NfDrop) // fail closed; the client resends
		}
		return 0
	}
	onErr := func(err error) int {
		if ctx.Err() != nil {
			return 1
		}
		return 0
	}
	if err := nf.RegisterWithErrorFunc(ctx, hook, onErr); err != nil {
		q.Close()
		return nil, fmt.Errorf("listen on nfqueue %d: %w", num, err)
	}
	return q, nil
}

// Accept lets a held packet go on: it leaves knockc's chain accepted, and
// the host firewall's own chains still judge it.
func (q *QueueListener) Accept(id uint32) error { return q.nf.SetVerdict(id, nfqueue.NfAccept) }

// Repeat sends a held packet through the input hook again, where it meets
// knockc's gate like any new packet.
func (q *QueueListener) Repeat(id uint32) error { return q.nf.SetVerdict(id, nfqueue.NfRepeat) }

// Drop drops a held packet.
func (q *QueueListener) Drop(id uint32) error { return q.nf.SetVerdict(id, nfqueue.NfDrop) }

// QueueDrops counts held packets dropped because a queue was full: by the
// kernel (its queue held maxLen packets, or the packet could not be handed
// to knockc) and by knockc (its own buffer was full). Their clients resend.
type QueueDrops struct {
	Kernel      uint64 // queue_dropped: the kernel's queue was full
	Undelivered uint64 // user_dropped: the netlink socket was full
	Knockc      uint64
}

// Drops returns the drop counts of the queue. The kernel's are read from
// /proc/net/netfilter/nfnetlink_queue of the caller's network namespace,
// so they are zero when the queue was bound in another one.
func (q *QueueListener) Drops() QueueDrops {
	d := QueueDrops{Knockc: q.overflow.Load()}
	if q.ns == nil {
		if b, err := os.ReadFile("/proc/net/netfilter/nfnetlink_queue"); err == nil {
			d.Kernel, d.Undelivered, _ = parseQueueStats(string(b), q.num)
		}
	}
	return d
}

// parseQueueStats reads queue num's queue_dropped and user_dropped from
// the text of /proc/net/netfilter/nfnetlink_queue, whose columns are:
// queue, peer portid, queue total, copy mode, copy range, queue dropped,
// user dropped, id sequence, 1.
func parseQueueStats(text string, num uint16) (dropped, undelivered uint64, ok bool) {
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 7 || f[0] != strconv.Itoa(int(num)) {
			continue
		}
		dropped, err1 := strconv.ParseUint(f[5], 10, 64)
		undelivered, err2 := strconv.ParseUint(f[6], 10, 64)
		return dropped, undelivered, err1 == nil && err2 == nil
	}
	return 0, 0, false
}

// Close unbinds the queue; the kernel drops what is still held.
func (q *QueueListener) Close() error {
	if q.cancel != nil {
		q.cancel()
	}
	var err error
	if q.nf != nil {
		err = q.nf.Close()
		q.nf = nil
	}
	q.closeNS()
	return err
}

func (q *QueueListener) closeNS() {
	if q.ns != nil {
		q.ns.Close()
		q.ns = nil
	}
}

// parseHeld reads source address, protocol and destination port of an
// IPv4 or IPv6 TCP/UDP packet (IPv6 without extension headers).
func parseHeld(p []byte) (HeldPacket, bool) {
	var hp HeldPacket
	var l4 []byte
	if len(p) < 1 {
		return hp, false
	}
	switch p[0] >> 4 {
	case 4:
		ihl := int(p[0]&0x0f) * 4
		if len(p) < 20 || ihl < 20 || len(p) < ihl+4 {
			return hp, false
		}
		hp.Src = netip.AddrFrom4([4]byte(p[12:16]))
		hp.Proto = ruleset.Proto(p[9])
		l4 = p[ihl:]
	case 6:
		if len(p) < 44 {
			return hp, false
		}
		hp.Src = netip.AddrFrom16([16]byte(p[8:24]))
		hp.Proto = ruleset.Proto(p[6])
		l4 = p[40:]
	default:
		return hp, false
	}
	if hp.Proto != ruleset.TCP && hp.Proto != ruleset.UDP {
		return hp, false
	}
	hp.Port = binary.BigEndian.Uint16(l4[2:4])
	return hp, true
}
