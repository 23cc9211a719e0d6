package nftkernel

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/knockc/knockc/ruleset"
)

// UpdateOptions tune Update.
type UpdateOptions struct {
	// Mark is what the table records; the zero value means NewOwner(want).
	Mark Owner
	// Adopt lets Update take over a table of that name that knockc did
	// not create (Foreign): the plan then replaces whatever it holds.
	Adopt bool
	// Attempts bounds the tries when other writers commit in between
	// (default 10).
	Attempts int
	// KeepNewer makes Update leave a table whose mark names another spec
	// applied after Mark.Applied (a NewerError): a monitor restoring what
	// it last saw must not overwrite what someone applied since.
	KeepNewer bool
	// OnPlan, when set, sees each attempt's plan before its batch is sent.
	OnPlan func(p *ruleset.Plan, attempt int)
}

// UpdateResult says what Update did.
type UpdateResult struct {
	Plan      *ruleset.Plan // the plan of the attempt that was sent (or found nothing to do)
	Attempts  int           // 1 unless another writer got in between
	Sent      bool          // whether a batch was committed
	Ownership Ownership     // what the table was before
	Before    Owner         // its mark before, when it was Owned
}

// Update brings knockc's table to want, safely against other writers: it
// reads the ruleset generation, reads the table and plans from it, and
// sends a batch that carries that generation (flushAt), so the kernel
// commits it only if nothing else was committed in between. On a conflict
// it reads and plans again. A table of that name that knockc did not
// create is refused (ErrNotOwned) unless o.Adopt. The table's mark is
// rewritten when its spec changes. After the batch the table is read back
// and must equal want: a batch that left drift (a flushed chain, a
// half-present table) is an error, never a success.
func (c *Conn) Update(want *ruleset.Table, o UpdateOptions) (UpdateResult, error) {
	if o.Mark == (Owner{}) {
		o.Mark = NewOwner(want)
	}
	if o.Attempts <= 0 {
		o.Attempts = 10
	}
	var res UpdateResult
	for res.Attempts = 1; ; res.Attempts++ {
		sent, gen, err := c.updateOnce(want, o, &res)
		if errors.Is(err, ErrConflict) && res.Attempts < o.Attempts {
			// Another writer won; back off a little so two retrying
			// writers do not keep colliding.
			time.Sleep(time.Duration(rand.IntN(2000)+500) * time.Microsecond)
			continue
		}
		if err != nil {
			return res, err
		}
		res.Sent = sent
		if sent {
			return res, c.verify(want, o.Mark, gen)
		}
		return res, nil
	}
}

// updateOnce is one read, plan and send of Update; it returns whether a
// batch was committed and the generation it was planned from.
func (c *Conn) updateOnce(want *ruleset.Table, o UpdateOptions, res *UpdateResult) (bool, uint32, error) {
	gen, err := c.Generation()
	if err != nil {
		return false, 0, fmt.Errorf("apply table %q: %w", want.Name, err)
	}
	have, own, mark, err := c.ReadOwned(want.Name)
	if err != nil {
		return false, 0, err
	}
	res.Ownership, res.Before = own, mark
	if own == Foreign && !o.Adopt {
		return false, 0, NotOwnedError(want.Name, "apply over")
	}
	if o.KeepNewer && own == Owned && mark.Known() && mark.Spec != o.Mark.Spec && mark.Applied.After(o.Mark.Applied) {
		return false, 0, &NewerError{Table: want.Name, Mark: mark}
	}
	plan, err := c.planAgainst(want, have)
	if err != nil {
		return false, 0, err
	}
	res.Plan = plan
	if plan.Empty() && own == Owned && mark.Spec == o.Mark.Spec {
		return false, gen, nil
	}
	if o.OnPlan != nil {
		o.OnPlan(plan, res.Attempts)
	}
	queue := QueueNative
	if usesQueue(want) {
		if queue, err = c.QueueMode(); err != nil {
			return false, 0, fmt.Errorf("apply table %q: %w", want.Name, err)
		}
	}
	// The plan's transaction, or only the table when just the mark is
	// rewritten, then the mark (owner.go): one typed list, one batch.
	todo := plan.Ops
	if plan.Empty() {
		todo = []ruleset.Op{{Verb: ruleset.VerbAdd, Kind: ruleset.KindTable, Table: want.Name}}
	}
	ops, err := batch(want, append(todo, markOps(want.Name, o.Mark)...), queue)
	if err != nil {
		return false, 0, fmt.Errorf("apply table %q: %w", want.Name, err)
	}
	if err := c.flushAt(gen, ops); err != nil {
		if errors.Is(err, ErrConflict) {
			return false, 0, fmt.Errorf("apply table %q: %w", want.Name, err)
		}
		return false, 0, applyError(want.Name, err, func() string { return c.diagnose(ops) })
	}
	return true, gen, nil
}

// verify reads the table back after a committed batch planned from gen.
// When nothing else has been committed since (generation gen+1), the table
// must equal want and carry mark; if another writer has committed since,
// what is there is theirs to answer for.
func (c *Conn) verify(want *ruleset.Table, mark Owner, gen uint32) error {
	have, own, got, err := c.ReadOwned(want.Name)
	if err != nil {
		return fmt.Errorf("apply table %q: read back: %w", want.Name, err)
	}
	now, err := c.Generation()
	if err != nil {
		return fmt.Errorf("apply table %q: read back: %w", want.Name, err)
	}
	if now != gen+1 {
		return nil
	}
	if p := ruleset.Diff(want, have); !p.Empty() || own != Owned || got.Spec != mark.Spec {
		return fmt.Errorf("apply table %q: %w (%s, owned %v)", want.Name, ErrReadBackDiffers, p.Summary(), own == Owned)
	}
	return nil
}

// NewerError is Update's refusal (with KeepNewer) to overwrite a table
// that holds a spec applied later than the one it was given.
type NewerError struct {
	Table string
	Mark  Owner // what the table holds
}

func (e *NewerError) Error() string {
	return fmt.Sprintf("table inet %q holds a newer spec (%s, applied %s): left as it is", e.Table, e.Mark.Spec, e.Mark.Applied.Format(time.RFC3339))
}
