package nftkernel

import (
	"errors"
	"fmt"

	"github.com/mdlayher/netlink"
)

// ApplyError is an apply that did not go through, in one of two ways that
// call for different actions: the kernel rejected the batch (Rejected: it
// rolled the whole batch back, so nothing changed, and Op names the
// operation it refused), or the socket failed while sending the batch or
// reading its acknowledgements (not Rejected: the batch may or may not
// have been committed, so the state is unknown until read back). Callers
// tell them apart with errors.As; the CLI adds the remedies.
type ApplyError struct {
	Table    string
	Rejected bool
	// Op is the refused operation in nft syntax (ruleset.Op.String), or ""
	// when it could not be found.
	Op string
	// Reason is the kernel's own explanation of the rejection (its extended
	// acknowledgement), when it gave one.
	Reason string
	Err    error
}

func (e *ApplyError) Error() string {
	if !e.Rejected {
		return fmt.Sprintf("apply table %q: the socket failed, the state is unknown: %v", e.Table, e.Err)
	}
	msg := fmt.Sprintf("apply table %q: kernel rejected the batch, nothing changed", e.Table)
	if e.Op != "" {
		msg += ": at " + e.Op
	} else {
		msg += ": the failing operation could not be found"
	}
	if e.Reason != "" {
		msg += " (" + e.Reason + ")"
	}
	return msg + ": " + e.Err.Error()
}

func (e *ApplyError) Unwrap() error { return e.Err }

// ErrReadBackDiffers is wrapped by an apply whose batch the kernel
// committed, but whose table, read back with no other writer in between,
// is not what was sent.
var ErrReadBackDiffers = errors.New("the batch was committed but the table read back differs")

// applyError builds the ApplyError of a failed batch: a rejection when the
// kernel answered with an error (find names the refused operation), a
// socket failure otherwise.
func applyError(table string, err error, find func() string) error {
	if !isRejection(err) {
		return &ApplyError{Table: table, Err: err}
	}
	e := &ApplyError{Table: table, Rejected: true, Err: err, Op: find()}
	var op *netlink.OpError
	if errors.As(err, &op) {
		e.Reason = op.Message
	}
	return e
}

// extendedAcks asks the kernel to explain an error acknowledgement
// (NETLINK_EXT_ACK): the reason then arrives in netlink.OpError.Message.
func extendedAcks(nl *netlink.Conn) error {
	if err := nl.SetOption(netlink.ExtendedAcknowledge, true); err != nil {
		return fmt.Errorf("ask for extended acks: %w", err)
	}
	return nil
}
