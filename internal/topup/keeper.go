package topup

import (
	"time"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/ruleset"
)

// Ensurer puts knockc's table back when it is gone; nftkernel.Conn has it.
type Ensurer interface {
	Ensure(want *ruleset.Table) (bool, error)
}

// Keeper is what knockc monitor does for token doors: it tops their tokens
// up (TopUp, every minute), and with --apply (Ensure, every reconcile tick)
// it puts a lost table back together with the tokens it held. While the
// table is there, each Ensure reads the token sets (ReadBefore); when the
// table is gone (nft flush ruleset), the next top-up puts back the tokens
// unspent at the last read and starts new ones above the mark read then.
// Only a token spent between that read and the loss (one reconcile tick,
// 2 s by default) can come back. It is used from one goroutine.
type Keeper struct {
	k     Kernel
	e     Ensurer
	spec  *compiler.Spec
	keys  Keys
	want  *ruleset.Table
	carry Carry // for the next top-up
	last  Carry // what the sets held at the last Ensure
}

// NewKeeper returns a keeper; carry is what the sets held before the
// monitor's own apply at start (nil without one).
func NewKeeper(k Kernel, e Ensurer, spec *compiler.Spec, keys Keys, carry Carry) *Keeper {
	return &Keeper{k: k, e: e, spec: spec, keys: keys, want: compiler.Compile(spec), carry: carry}
}

// TopUp installs the tokens that are due (after a recreation or a lost
// table, from what the sets held before).
func (kp *Keeper) TopUp() error {
	_, err := RunFrom(kp.k, kp.spec, kp.keys, time.Now(), false, kp.carry)
	if err == nil {
		kp.carry = nil
	}
	return err
}

// Ensure puts the table back when it is gone and reports whether it did;
// while it is there, it remembers what the token sets hold.
func (kp *Keeper) Ensure() (bool, error) {
	applied, err := kp.e.Ensure(kp.want)
	switch {
	case err != nil:
		return false, err
	case applied:
		kp.carry = kp.last
	case len(kp.keys) > 0:
		kp.last = ReadBefore(kp.k, kp.spec, kp.keys)
	}
	return applied, nil
}
