package nftkernel

import (
	"errors"
	"fmt"
	"testing"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// A kernel's error ack is a rejection that names the refused operation
// and the kernel's reason; anything else is a socket failure with the
// state unknown. Both unwrap to the netlink error.
func TestApplyErrorTellsRejectionFromSocketFailure(t *testing.T) {
	ack := &netlink.OpError{Op: "receive", Err: unix.ENOENT, Message: "no such chain"}
	rejected := applyError("knockc", fmt.Errorf("conn.Receive: %w", ack), func() string { return "add rule inet knockc gate jump nowhere" })
	var ae *ApplyError
	if !errors.As(rejected, &ae) || !ae.Rejected || ae.Op != "add rule inet knockc gate jump nowhere" || ae.Reason != "no such chain" {
		t.Errorf("applyError(error ack) = %#v, want a rejection naming the operation and the reason", rejected)
	}
	if want := `apply table "knockc": kernel rejected the batch, nothing changed: at add rule inet knockc gate jump nowhere (no such chain): `; len(rejected.Error()) < len(want) || rejected.Error()[:len(want)] != want {
		t.Errorf("rejection message = %q, want it to start %q", rejected, want)
	}
	if !errors.Is(rejected, unix.ENOENT) {
		t.Errorf("rejection does not unwrap to the kernel's errno")
	}

	lost := applyError("knockc", &netlink.OpError{Op: "receive", Err: unix.ENOBUFS}, func() string {
		t.Error("a socket failure must not be bisected")
		return ""
	})
	if !errors.As(lost, &ae) || ae.Rejected || ae.Op != "" {
		t.Errorf("applyError(ENOBUFS) = %#v, want a socket failure", lost)
	}
	if want := `apply table "knockc": the socket failed, the state is unknown: `; lost.Error()[:len(want)] != want {
		t.Errorf("socket failure message = %q, want it to start %q", lost, want)
	}
}
