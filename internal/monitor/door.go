package monitor

import (
	"context"
	"log/slog"
	"net/netip"
	"time"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/ruleset"
	"github.com/knockc/knockc/ruleset/nftkernel"
)

// door serves one door's events one at a time, so a slow service start
// holds up only its own door. It keeps the grant deadlines it knows of;
// the kernel's sets stay the truth and every reconcile rereads them.
type door struct {
	m      *Monitor
	spec   *compiler.Door
	table  string
	svc    Service
	log    *slog.Logger
	events chan Event
	held   chan nftkernel.HeldPacket
	wake   chan struct{} // a pending reconcile (coalesced)

	grants map[netip.Addr]time.Time // granted sources and when their grant ends
	hooked map[netip.Addr]bool      // granted sources whose on_open has run
	holds  map[netip.Addr][]hold    // packets of pending sources, held in NFQUEUE
	up     *bool                    // whether the service runs; nil: not known yet

	// failing holds the failures the door retries at each reconcile (a
	// service that will not start, sets it cannot read): each logs once at
	// error level, its repeats at debug (repeats.go).
	failing repeats
}

// hold is one packet held in the kernel's queue and when to give up on it.
type hold struct {
	id       uint32
	deadline time.Time
}

// maxHeldPerSource bounds the packets held for one source; more are
// dropped (the client resends them).
const maxHeldPerSource = 64

func newDoor(m *Monitor, d *compiler.Door, svc Service) *door {
	return &door{
		m: m, spec: d, table: m.cfg.Spec.Table.Name, svc: svc,
		log:    m.log.With("door", d.Name),
		events: make(chan Event, 256),
		held:   make(chan nftkernel.HeldPacket, 1024),
		holds:  map[netip.Addr][]hold{},
		wake:   make(chan struct{}, 1),
		grants: map[netip.Addr]time.Time{},
		hooked: map[netip.Addr]bool{},
	}
}

// poke asks the door to reconcile soon; extra pokes fold into one.
func (d *door) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *door) run(ctx context.Context) {
	expiry := time.NewTimer(time.Hour)
	defer expiry.Stop()
	for {
		d.resetExpiry(expiry)
		select {
		case <-ctx.Done():
			return
		case ev := <-d.events:
			d.handle(ctx, ev)
		case hp := <-d.held:
			d.hold(hp)
		case <-d.wake:
			d.reconcile(ctx)
		case <-expiry.C:
			d.expireHolds()
			d.reconcile(ctx)
		}
	}
}

// resetExpiry arms the timer for the earliest grant deadline, so the door
// notices the last grant ending without waiting for the next reconcile.
func (d *door) resetExpiry(t *time.Timer) {
	next := time.Hour
	for _, end := range d.grants {
		if left := time.Until(end) + 50*time.Millisecond; left < next {
			next = max(left, time.Millisecond)
		}
	}
	for _, hs := range d.holds {
		for _, h := range hs {
			if left := time.Until(h.deadline); left < next {
				next = max(left, time.Millisecond)
			}
		}
	}
	t.Reset(next)
}

func (d *door) handle(ctx context.Context, ev Event) {
	switch ev.Seq {
	case compiler.Open:
		d.open(ctx, ev.Addr, ev.At, "knock", ev.Key)
	case compiler.Close:
		delete(d.grants, ev.Addr)
		delete(d.hooked, ev.Addr)
		d.log.Info("door closed by knock", "event", "close", "addr", ev.Addr)
		d.hook(d.spec.OnClose, "close", ev.Addr, "")
		d.stopIfIdle(ctx)
	}
}

// open grants addr: for a managed door it starts the service first and
// moves addr from pending to granted; for an unmanaged door the kernel has
// granted already and only the hook is left.
func (d *door) open(ctx context.Context, addr netip.Addr, at time.Time, why, key string) {
	f := ruleset.FamilyOf(addr)
	if d.svc != nil {
		if !d.ensureUp(ctx) {
			return // addr stays pending; the next reconcile tries again
		}
		err := d.m.cfg.Kernel.Move(d.table, compiler.PendingSet(d.spec.Name, f), compiler.GrantSet(d.spec.Name, f), addr, d.spec.OpenFor)
		if err != nil {
			d.log.Error("grant failed", "event", "grant_fail", "addr", addr, "err", err)
			return
		}
		latency := time.Since(at)
		if d.m.cfg.Granted != nil {
			d.m.cfg.Granted(d.spec.Name, addr, latency)
		}
		d.log.Info("door opened", "event", "open", "addr", addr, "by", why, "key", key, "open_for", d.spec.OpenFor, "latency", latency)
	} else {
		d.log.Info("door opened", "event", "open", "addr", addr, "by", why, "key", key, "open_for", d.spec.OpenFor)
	}
	d.grants[addr] = time.Now().Add(d.spec.OpenFor)
	d.release(addr)
	// A knocker repeating its sequence while granted renews its grant:
	// on_open runs once per grant (hook.go), until the grant ends.
	if !d.hooked[addr] {
		d.hooked[addr] = true
		d.hook(d.spec.OnOpen, "open", addr, key)
	}
}

// hold keeps a pending source's packet until its grant is in place, or
// lets it go at once when the source is granted already.
func (d *door) hold(hp nftkernel.HeldPacket) {
	addr := hp.Src.Unmap()
	if end, ok := d.grants[addr]; ok && time.Now().Before(end) {
		d.m.verdict("accept", hp.ID, d.m.cfg.Verdicts.Accept(hp.ID))
		return
	}
	if len(d.holds[addr]) >= maxHeldPerSource {
		d.log.Warn("too many packets held for one source: dropped, its client will resend", "event", "hold_drop", "addr", addr)
		d.m.verdict("drop", hp.ID, d.m.cfg.Verdicts.Drop(hp.ID))
		return
	}
	d.holds[addr] = append(d.holds[addr], hold{id: hp.ID, deadline: time.Now().Add(d.spec.StartTimeout)})
}

// release lets every packet held for addr go on: its grant is in place.
func (d *door) release(addr netip.Addr) {
	hs := d.holds[addr]
	if len(hs) == 0 {
		return
	}
	delete(d.holds, addr)
	for _, h := range hs {
		d.m.verdict("accept", h.id, d.m.cfg.Verdicts.Accept(h.id))
	}
	d.log.Info("held packets released", "event", "release", "addr", addr, "packets", len(hs))
}

// expireHolds answers packets held past the door's start_timeout like a
// closed port: the source leaves the pending set, and the packet goes
// through the hook again, where the gate now rejects (or drops) it.
func (d *door) expireHolds() {
	now := time.Now()
	for addr, hs := range d.holds {
		var keep []hold
		expired := 0
		for _, h := range hs {
			if now.Before(h.deadline) {
				keep = append(keep, h)
				continue
			}
			if expired == 0 {
				if err := d.m.cfg.Kernel.Remove(d.table, compiler.PendingSet(d.spec.Name, ruleset.FamilyOf(addr)), addr); err != nil {
					d.log.Error("take a source out of pending", "addr", addr, "err", err)
				}
			}
			expired++
			d.m.verdict("repeat", h.id, d.m.cfg.Verdicts.Repeat(h.id))
		}
		if expired > 0 {
			d.log.Warn("service not up in time: held packets answered like a closed port", "event", "hold_expire", "addr", addr, "packets", expired, "start_timeout", d.spec.StartTimeout)
		}
		if len(keep) == 0 {
			delete(d.holds, addr)
		} else {
			d.holds[addr] = keep
		}
	}
}

// ensureUp starts the service unless it is known to run, waiting at most
// the door's start_timeout. It reports whether the service is up.
func (d *door) ensureUp(ctx context.Context) bool {
	if d.up != nil && *d.up {
		return true
	}
	sctx, cancel := context.WithTimeout(ctx, d.spec.StartTimeout)
	defer cancel()
	t0 := time.Now()
	if err := d.svc.Start(sctx); err != nil {
		d.up = nil // unknown: ask again next time
		d.failing.failed(d.log, slog.LevelError, "start", "service did not start: knockers stay pending and it is retried at each reconcile",
			err, "event", "service_fail", "service", d.svc.String())
		return false
	}
	d.setUp(true)
	if n := d.failing.ok("start"); n > 0 {
		d.log.Info("service started", "event", "service_start", "service", d.svc.String(), "took", time.Since(t0), "after_failed_attempts", n)
	} else {
		d.log.Info("service started", "event", "service_start", "service", d.svc.String(), "took", time.Since(t0))
	}
	return true
}

// stopIfIdle stops the service when the door has no grant and no pending
// knocker left. It rereads the kernel's sets first: they are the truth.
func (d *door) stopIfIdle(ctx context.Context) {
	if d.svc == nil || len(d.grants) > 0 || !d.spec.StopWhenIdle {
		return
	}
	if pending, err := d.read(compiler.PendingSet); err != nil || len(pending) > 0 {
		return
	}
	if grants, err := d.read(compiler.GrantSet); err != nil || len(grants) > 0 {
		return
	}
	d.stop(ctx)
}

// stop stops the door's service, which the caller found idle, unless the
// door keeps it running or it is known to be down already.
func (d *door) stop(ctx context.Context) {
	if d.svc == nil || !d.spec.StopWhenIdle || (d.up != nil && !*d.up) {
		return
	}
	sctx, cancel := context.WithTimeout(ctx, d.spec.StartTimeout)
	defer cancel()
	if err := d.svc.Stop(sctx); err != nil {
		d.log.Error("service did not stop", "event", "service_fail", "service", d.svc.String(), "err", err)
		d.up = nil
		return
	}
	d.setUp(false)
	d.log.Info("service stopped: no grant left", "event", "service_stop", "service", d.svc.String())
}

// reconcile brings the door in line with the kernel's sets: serves pending
// knockers, learns grants it missed, notices grants that ended, and starts
// or stops the service to match.
func (d *door) reconcile(ctx context.Context) {
	grants, err := d.read(compiler.GrantSet)
	if err != nil {
		d.failing.failed(d.log, slog.LevelError, "read", "reconcile: cannot read the door's sets", err)
		return
	}
	seen := map[netip.Addr]bool{}
	now := time.Now()
	for _, e := range grants {
		seen[e.Addr] = true
		if _, known := d.grants[e.Addr]; !known {
			d.log.Info("grant found in the kernel", "event", "grant_found", "addr", e.Addr, "left", e.Expires)
		}
		d.grants[e.Addr] = now.Add(e.Expires)
	}
	for addr := range d.grants {
		if !seen[addr] {
			delete(d.grants, addr)
			delete(d.hooked, addr)
			d.log.Info("grant ended", "event", "expire", "addr", addr)
			d.hook(d.spec.OnClose, "expire", addr, "")
		}
	}
	for addr := range d.holds {
		if seen[addr] {
			d.release(addr)
		}
	}
	if d.svc == nil {
		return
	}
	// Ask every time: the service may have died or been stopped by hand.
	if active, err := d.svc.Active(ctx); err != nil {
		d.failing.failed(d.log, slog.LevelError, "state", "reconcile: cannot ask the service's state", err, "service", d.svc.String())
		d.up = nil
	} else {
		if n := d.failing.ok("state"); n > 0 {
			d.log.Info("reconcile: the service's state answers again", "service", d.svc.String(), "after_failed_attempts", n)
		}
		d.setUp(active)
	}
	pending, err := d.read(compiler.PendingSet)
	if err != nil {
		d.failing.failed(d.log, slog.LevelError, "read", "reconcile: cannot read the door's sets", err)
		return
	}
	if n := d.failing.ok("read"); n > 0 {
		d.log.Info("reconcile: the door's sets read again", "after_failed_attempts", n)
	}
	for _, e := range pending {
		d.open(ctx, e.Addr, now, "reconcile", "")
	}
	switch {
	case len(d.grants) > 0:
		d.ensureUp(ctx) // a grant whose service is down would lock its knocker out
	case len(pending) == 0:
		d.stop(ctx) // the sets were just read: nobody pending or granted
	}
}

// read returns the elements of one of the door's sets, both families.
func (d *door) read(name func(string, ruleset.Family) string) ([]ruleset.Element, error) {
	var out []ruleset.Element
	for _, f := range d.spec.Families {
		elems, err := d.m.cfg.Kernel.Elements(d.table, name(d.spec.Name, f))
		if err != nil {
			return nil, err
		}
		out = append(out, elems...)
	}
	return out, nil
}

func (d *door) setUp(v bool) { d.up = &v }
