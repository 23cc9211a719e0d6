package monitor

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/knockc/knockc/ruleset"
	"github.com/knockc/knockc/ruleset/nftkernel"
)

// TableKernel is what a Guard needs of nf_tables; nftkernel.Conn has it.
type TableKernel interface {
	ReadOwned(table string) (*ruleset.Table, nftkernel.Ownership, nftkernel.Owner, error)
	Update(want *ruleset.Table, o nftkernel.UpdateOptions) (nftkernel.UpdateResult, error)
}

// Guard keeps knockc's table as it was last applied, by anyone. It
// remembers the last table it knows was applied and its mark (spec hash
// and time, see nftkernel.Owner) and, each time it is told the ruleset
// changed (nf_tables notifications: Run), reads the table back:
//   - gone (nft flush ruleset, nft delete table), rules flushed (nft flush
//     table), a chain deleted or edited: it restores the last applied table;
//   - carrying a newer spec (someone ran knockc apply with another spec):
//     it warns and from then on restores that one, never its own older one;
//   - replaced by a table knockc did not create: it leaves it and says so.
//
// Restores go through Update with KeepNewer, so a restore racing a newer
// apply loses. With restore off it only logs what it sees.
type Guard struct {
	k       TableKernel
	log     *slog.Logger
	restore bool

	// op serialises Apply and Check, so that a check never sees the
	// guard's own apply before the guard knows it made it.
	op   sync.Mutex
	mu   sync.Mutex
	last *ruleset.Table  // the table last applied, nil until known
	mark nftkernel.Owner // its mark

	// Restored, when set, is called after each restore with why and how
	// long it took from the notification: for tests and benchmarks.
	Restored func(why string, took time.Duration)
}

// NewGuard returns a guard of the table named by want; restore says
// whether it puts the table back or only logs. It knows nothing applied
// yet: call Apply, or Adopt what is in the kernel.
func NewGuard(k TableKernel, log *slog.Logger, restore bool) *Guard {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Guard{k: k, log: log, restore: restore}
}

// Apply applies want as a new spec (the monitor's start, a reload) and
// remembers it as the last applied. It fails as Update does.
func (g *Guard) Apply(want *ruleset.Table) error {
	g.op.Lock()
	defer g.op.Unlock()
	mark := nftkernel.NewOwner(want)
	res, err := g.k.Update(want, nftkernel.UpdateOptions{Mark: mark})
	if err != nil {
		return err
	}
	g.mu.Lock()
	g.last, g.mark = want, mark
	g.mu.Unlock()
	if res.Sent {
		g.log.Info("applied the spec", "table", want.Name, "spec", mark.Spec, "plan", res.Plan.Summary(), "attempts", res.Attempts)
	}
	return nil
}

// Watch remembers what the kernel holds now as the last applied table,
// when it is knockc's and whole (the monitor started without --apply).
func (g *Guard) Watch(table string) error {
	have, own, mark, err := g.k.ReadOwned(table)
	if err != nil {
		return err
	}
	if own == nftkernel.Owned && mark.Known() {
		g.mu.Lock()
		g.last, g.mark = have, mark
		g.mu.Unlock()
	}
	return nil
}

// Last returns the table the guard restores and its mark.
func (g *Guard) Last() (*ruleset.Table, nftkernel.Owner) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.last, g.mark
}

// Run checks the table on every change that touches it and every poll
// (a safety net for lost notifications) until ctx ends.
func (g *Guard) Run(ctx context.Context, changes <-chan nftkernel.Change, poll time.Duration) {
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ch := <-changes:
			last, _ := g.Last()
			if last != nil && ch.Touches(last.Name) {
				g.Check(time.Now(), ch)
			}
		case <-tick.C:
			g.Check(time.Now(), nftkernel.Change{})
		}
	}
}

// Check reads the table and restores it when it is not what was last
// applied; seen is when the change was noticed and ch what the kernel said
// about it (zero for a poll).
func (g *Guard) Check(seen time.Time, ch nftkernel.Change) {
	g.op.Lock()
	defer g.op.Unlock()
	g.check(seen, ch)
}

func (g *Guard) check(seen time.Time, ch nftkernel.Change) {
	last, mark := g.Last()
	if last == nil {
		return
	}
	have, own, got, err := g.k.ReadOwned(last.Name)
	if err != nil {
		g.log.Error("read knockc's table", "table", last.Name, "err", err)
		return
	}
	by := []any{"table", last.Name}
	if ch.Proc != "" {
		by = append(by, "by", ch.Proc, "pid", ch.PID)
	}
	var why string
	switch {
	case own == nftkernel.Absent:
		why = "table deleted"
	case own == nftkernel.Foreign:
		g.log.Error("knockc's table was replaced by a table knockc did not create: leaving it alone; its doors may be open (run knockc apply --adopt to take it back)", by...)
		return
	case !got.Known():
		why = "rules flushed"
	case got.Spec != mark.Spec && got.Applied.After(mark.Applied):
		g.mu.Lock()
		g.last, g.mark = have, got
		g.mu.Unlock()
		g.log.Warn("a newer spec was applied to knockc's table: the monitor keeps it and will restore that one, not its own; reload the monitor (systemctl reload, SIGHUP) to serve its doors",
			append(by, "spec", got.Spec, "applied", got.Applied, "monitor_spec", mark.Spec)...)
		return
	case got.Spec != mark.Spec:
		why = "an older spec was applied"
	default:
		p := ruleset.Diff(last, have)
		if p.Empty() {
			if !got.Applied.Equal(mark.Applied) { // the same spec applied again
				g.mu.Lock()
				g.mark = got
				g.mu.Unlock()
			}
			return
		}
		why = "drift: " + p.Summary()
	}
	if !g.restore {
		g.log.Error("knockc's table is not what was applied; start the monitor with --apply to have it restored, or run knockc apply", append(by, "what", why)...)
		return
	}
	res, err := g.k.Update(last, nftkernel.UpdateOptions{Mark: mark, KeepNewer: true})
	var newer *nftkernel.NewerError
	switch {
	case errors.As(err, &newer):
		g.check(time.Now(), nftkernel.Change{}) // take the newer one on
		return
	case err != nil:
		g.log.Error("restore knockc's table", append(by, "what", why, "err", err)...)
		return
	}
	took := time.Since(seen)
	if g.Restored != nil {
		g.Restored(why, took)
	}
	g.log.Warn("knockc's table restored; knocks in progress and grants in reset sets were lost with it",
		append(by, "what", why, "spec", mark.Spec, "took", took, "attempts", res.Attempts, "plan", res.Plan.Summary())...)
}
