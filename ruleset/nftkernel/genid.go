package nftkernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// ErrConflict is wrapped by an apply the kernel refused because another
// batch was committed after the apply read the ruleset it planned from.
var ErrConflict = errors.New("the ruleset changed since it was read (another writer)")

// nfnlBatchGenID is NFNL_BATCH_GENID, the batch-begin attribute that makes
// nfnetlink refuse the whole batch with ERESTART unless the ruleset is
// still at that generation (include/uapi/linux/netfilter/nfnetlink.h).
const nfnlBatchGenID = 1

// ackWait bounds the wait for each answer on the control socket (ctl.go):
// for a batch, from its send on.
var ackWait = 30 * time.Second

// flushAt sends the batch ops build as one transaction that the kernel
// commits only if the ruleset is still at generation gen: a batch planned
// from a ruleset someone has changed since is refused whole, and the
// error wraps ErrConflict. It is what nft does for its own cache.
//
// google/nftables v0.3.0 builds the batch-begin message itself and has no
// way to add the attribute, so the batch is built by a google/nftables
// connection whose netlink socket is a recorder (its TestDial hook), and
// then sent, with the attribute added, on a socket of our own.
func (c *Conn) flushAt(gen uint32, ops []op) error {
	msgs, err := recordBatch(ops)
	if err != nil {
		return err
	}
	begin := &msgs[0]
	if begin.Header.Type != netlink.HeaderType(unix.NFNL_MSG_BATCH_BEGIN) {
		return fmt.Errorf("send batch: recorded batch does not begin with NFNL_MSG_BATCH_BEGIN")
	}
	attr, err := netlink.MarshalAttributes([]netlink.Attribute{{Type: nfnlBatchGenID, Data: binary.BigEndian.AppendUint32(nil, gen)}})
	if err != nil {
		return fmt.Errorf("send batch: %w", err)
	}
	begin.Data = append(begin.Data[:4:4], attr...)
	acks := 0
	for i := range msgs {
		// Let the real socket number the messages and fill in lengths.
		msgs[i].Header.Length, msgs[i].Header.Sequence, msgs[i].Header.PID = 0, 0, 0
		if msgs[i].Header.Flags&netlink.Acknowledge != 0 {
			acks++
		}
	}
	var errs []error
	err = c.control(func(nl *netlink.Conn) error { // ctl.go
		// The kernel answers every message that asked for an ack, or only
		// the batch-begin (ERESTART) when the generation moved. nfnetlink
		// runs the whole batch inside the send, which for a large table
		// takes longer than any fixed bound (2000 doors: over a minute),
		// and queues the answers meanwhile; so the deadline, which keeps a
		// lost answer from hanging the caller, starts after the send and
		// again at each receive. Set before the send, it expired while the
		// kernel was committing, and apply reported a timeout for a batch
		// the kernel had applied.
		if _, err := nl.SendMessages(msgs); err != nil {
			return fmt.Errorf("send batch: %w", err)
		}
		// Messages sent with NLM_F_ECHO (google/nftables asks for new
		// rules back) get their object before their ack: count acks only.
		for got := 0; got < acks; {
			if err := nl.SetReadDeadline(time.Now().Add(ackWait)); err != nil {
				return fmt.Errorf("send batch: %w", err)
			}
			replies, err := nl.Receive()
			for _, r := range replies {
				if r.Header.Type == netlink.Error {
					got++
				}
			}
			if err != nil {
				got++
				if errors.Is(err, unix.ERESTART) {
					return fmt.Errorf("%w (generation %d): %w", ErrConflict, gen, err)
				}
				var op *netlink.OpError
				if !errors.As(err, &op) || op.Op != "receive" || errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.ETIMEDOUT) {
					return fmt.Errorf("send batch: %w", err)
				}
				errs = append(errs, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(errs) > 0 {
		// Shaped like google/nftables' own Flush error, so isRejection
		// and errorCount read it the same way.
		return fmt.Errorf("conn.Receive: %w", errors.Join(errs...))
	}
	return nil
}

// recordBatch returns the netlink messages of the batch ops build, as
// google/nftables would send them, batch-begin and batch-end included.
func recordBatch(ops []op) ([]netlink.Message, error) {
	var sent []netlink.Message
	ack := netlink.Message{Header: netlink.Header{Type: netlink.Error}, Data: make([]byte, 4)}
	rec, err := nftables.New(nftables.WithTestDial(func(req []netlink.Message) ([]netlink.Message, error) {
		if req == nil { // a receive: acknowledge one message
			return []netlink.Message{ack}, nil
		}
		sent = append(sent, req...)
		return nil, nil
	}))
	if err != nil {
		return nil, fmt.Errorf("build batch: %w", err)
	}
	for _, o := range ops {
		o.do(rec)
	}
	if err := rec.Flush(); err != nil {
		return nil, fmt.Errorf("build batch: %w", err)
	}
	if len(sent) < 2 {
		return nil, fmt.Errorf("build batch: nothing recorded")
	}
	return sent, nil
}
