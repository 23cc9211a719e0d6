package monitor

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/ruleset"
	"github.com/knockc/knockc/ruleset/nftkernel"
)

// Kernel is what the monitor needs of nf_tables; nftkernel.Conn has it.
type Kernel interface {
	// Elements lists a set's addresses with their time left.
	Elements(table, set string) ([]ruleset.Element, error)
	// Move puts addr in set to with timeout and takes it out of from, in one batch.
	Move(table, from, to string, addr netip.Addr, timeout time.Duration) error
	// Remove takes addr out of set; an address not there is not an error.
	Remove(table, set string, addr netip.Addr) error
}

// Verdicts decides the fate of packets held in NFQUEUE; nftkernel's
// QueueListener has it.
type Verdicts interface {
	Accept(id uint32) error // go on: the host firewall decides
	Repeat(id uint32) error // through the hook again: meets the gate anew
	Drop(id uint32) error
}

// Service is a door's managed service (a systemd unit or start/stop argv).
type Service interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	Active(ctx context.Context) (bool, error)
	String() string
}

// Event is one completed sequence, or an open by token.
type Event struct {
	Door string
	Seq  compiler.Seq
	Key  string // the key whose token opened a token door, else empty
	Addr netip.Addr
	At   time.Time // when the event reached the monitor
}

// Config holds what a Monitor needs; zero durations get defaults.
type Config struct {
	Spec     *compiler.Spec
	Kernel   Kernel
	Services map[string]Service // by door name, for managed doors
	Verdicts Verdicts           // for held packets; nil when nothing is held
	Logger   *slog.Logger
	// Reconcile is how often the sets are read back (default 2s).
	Reconcile time.Duration
	// HookTimeout bounds on_open/on_close hooks (default 10s).
	HookTimeout time.Duration
	// Ensure, when set, is called at every reconcile tick to put the table
	// back if it is gone (knockc monitor --apply); it reports whether it did.
	Ensure func() (bool, error)
	// TopUp, when set, installs the token doors' tokens that are due
	// (internal/topup); it runs at start and every TopUpEvery (default 1m).
	TopUp      func() error
	TopUpEvery time.Duration
	// Granted, when set, is called after each grant with the time from
	// event to grant: for benchmarks.
	Granted func(door string, addr netip.Addr, latency time.Duration)
}

// Monitor reacts to door events; see the package doc.
type Monitor struct {
	cfg   Config
	log   *slog.Logger
	doors map[string]*door
	ports map[compiler.Step]*door // protected port → its door, to route held packets
	drops nftkernel.QueueDrops    // the last drop counts reported
	hooks chan hookJob            // hooks waiting to run (hook.go)
	// failing holds the failures retried at every tick (token top-ups,
	// putting the table back): each logs once at error level (repeats.go).
	failing repeats
}

// New checks cfg and returns a monitor; it fails when a managed door has
// no service.
func New(cfg Config) (*Monitor, error) {
	if cfg.Reconcile <= 0 {
		cfg.Reconcile = 2 * time.Second
	}
	if cfg.TopUpEvery <= 0 {
		cfg.TopUpEvery = time.Minute
	}
	if cfg.HookTimeout <= 0 {
		cfg.HookTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Monitor{cfg: cfg, log: cfg.Logger, doors: map[string]*door{}, ports: map[compiler.Step]*door{}, hooks: make(chan hookJob, hookQueue)}
	for _, d := range cfg.Spec.Doors {
		svc := cfg.Services[d.Name]
		if d.Managed() && svc == nil {
			return nil, fmt.Errorf("monitor: door %q manages a service but none was given", d.Name)
		}
		m.doors[d.Name] = newDoor(m, d, svc)
		for _, p := range d.Protect {
			m.ports[p] = m.doors[d.Name]
		}
	}
	return m, nil
}

// Run serves events and held packets until ctx ends. A signal on lost
// (events dropped by the kernel) triggers an immediate reconcile. Run
// returns nil when ctx ends; services are left as they are, so a restart
// finds them running, and packets still held are dropped by the kernel
// when the queue is unbound (their clients resend them).
func (m *Monitor) Run(ctx context.Context, events <-chan Event, held <-chan nftkernel.HeldPacket, lost <-chan struct{}) error {
	m.runHooks(ctx)
	done := make(chan struct{})
	for _, d := range m.doors {
		go func() {
			defer func() { done <- struct{}{} }()
			d.run(ctx)
		}()
	}
	m.check(ctx)
	m.topUp()
	m.reconcileAll()
	tick := time.NewTicker(m.cfg.Reconcile)
	defer tick.Stop()
	topUp := time.NewTicker(m.cfg.TopUpEvery)
	defer topUp.Stop()
	for {
		select {
		case <-ctx.Done():
			for range m.doors {
				<-done
			}
			return nil
		case ev := <-events:
			d := m.doors[ev.Door]
			if d == nil {
				m.log.Warn("event for a door not in the spec", "door", ev.Door, "seq", ev.Seq, "addr", ev.Addr)
				continue
			}
			select {
			case d.events <- ev:
			default:
				m.log.Warn("door busy: event left to reconcile", "door", ev.Door, "addr", ev.Addr)
				d.poke()
			}
		case hp := <-held:
			d := m.ports[compiler.Step{Port: hp.Port, Proto: hp.Proto}]
			if d == nil || m.cfg.Verdicts == nil {
				m.verdict("drop", hp.ID, m.drop(hp.ID))
				continue
			}
			select {
			case d.held <- hp:
			default:
				m.log.Warn("door busy: held packet dropped, its client will resend", "door", d.spec.Name, "addr", hp.Src)
				m.verdict("drop", hp.ID, m.drop(hp.ID))
			}
		case <-lost:
			m.log.Warn("kernel dropped events (socket buffer full): reconciling from the sets")
			m.reconcileAll()
		case <-tick.C:
			m.ensureTable()
			m.reconcileAll()
			m.reportDrops()
		case <-topUp.C:
			m.topUp()
		}
	}
}

// topUp installs the tokens that are due, if configured to.
func (m *Monitor) topUp() {
	if m.cfg.TopUp == nil {
		return
	}
	if err := m.cfg.TopUp(); err != nil {
		m.failing.failed(m.log, slog.LevelError, "topup", "cannot top up tokens", err)
	} else if n := m.failing.ok("topup"); n > 0 {
		m.log.Info("tokens topped up again", "after_failed_attempts", n)
	}
}

// checker is a service that can tell what is wrong with its setup.
type checker interface {
	Check(ctx context.Context) ([]string, error)
}

// check logs what the services' own setup gets wrong, once at start.
func (m *Monitor) check(ctx context.Context) {
	for name, d := range m.doors {
		c, ok := d.svc.(checker)
		if !ok {
			continue
		}
		warnings, err := c.Check(ctx)
		if err != nil {
			m.log.Warn("cannot check the service", "door", name, "err", err)
		}
		for _, w := range warnings {
			m.log.Warn(w, "door", name)
		}
	}
}

func (m *Monitor) drop(id uint32) error {
	if m.cfg.Verdicts == nil {
		return nil
	}
	return m.cfg.Verdicts.Drop(id)
}

// verdict logs a verdict the kernel refused (the packet is then gone).
func (m *Monitor) verdict(what string, id uint32, err error) {
	if err != nil {
		m.log.Warn("verdict refused", "verdict", what, "id", id, "err", err)
	}
}

// ensureTable puts knockc's table back when it is gone, if configured to.
func (m *Monitor) ensureTable() {
	if m.cfg.Ensure == nil {
		return
	}
	applied, err := m.cfg.Ensure()
	if err == nil {
		if n := m.failing.ok("ensure"); n > 0 {
			m.log.Info("knockc's table can be checked and put back again", "after_failed_attempts", n)
		}
	}
	switch {
	case err != nil:
		m.failing.failed(m.log, slog.LevelError, "ensure", "cannot put knockc's table back", err)
	case applied:
		m.log.Info("knockc's table was restored (see the restore above): topping up token doors")
		// Token doors came back empty: install their tokens at once, not
		// at the next top-up tick.
		m.topUp()
	}
}

// dropCounter is a Verdicts that counts held packets dropped for a full
// queue (nftkernel's QueueListener).
type dropCounter interface {
	Drops() nftkernel.QueueDrops
}

// reportDrops logs when held packets were dropped since the last report:
// the queue is bounded, and an operator should hear when it overflows.
func (m *Monitor) reportDrops() {
	c, ok := m.cfg.Verdicts.(dropCounter)
	if !ok {
		return
	}
	d := c.Drops()
	if d != m.drops {
		m.log.Warn("held packets dropped for a full queue; their clients resend", "event", "queue_drop", "kernel", d.Kernel, "undelivered", d.Undelivered, "monitor", d.Knockc)
		m.drops = d
	}
}

// reconcileAll asks every door to reconcile from the kernel.
func (m *Monitor) reconcileAll() {
	for _, d := range m.doors {
		d.poke()
	}
}
