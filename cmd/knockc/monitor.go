//go:build linux

package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/internal/logging"
	"github.com/knockc/knockc/internal/monitor"
	"github.com/knockc/knockc/internal/service"
	"github.com/knockc/knockc/internal/topup"
	"github.com/knockc/knockc/ruleset"
	"github.com/knockc/knockc/ruleset/nftkernel"
	"github.com/urfave/cli/v2"
)

func monitorCommand() *cli.Command {
	return &cli.Command{
		Name:      "monitor",
		Usage:     "run the daemon that starts and stops managed services and grants knockers (run it in the host's network namespace, e.g. under systemd)",
		ArgsUsage: "FILE",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "log-format", Value: "auto", Usage: "auto (journal when stderr is the journal, else text), text, json or journal (native entries: PRIORITY per level, KNOCKC_DOOR, KNOCKC_ADDR, KNOCKC_EVENT… fields)"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error"},
			&cli.DurationFlag{Name: "reconcile", Value: 2 * time.Second, Usage: "how often to read the pending and grant sets back from the kernel"},
			&cli.BoolFlag{Name: "apply", Usage: "apply the spec at start, and restore the table within milliseconds whenever another tool deletes or flushes it (nf_tables notifications); SIGHUP re-reads the spec"},
			metricsFlag,
		},
		Action: func(c *cli.Context) error {
			spec, err := loadSpec(c, false)
			if err != nil {
				return err
			}
			log, err := logging.New(c.App.ErrWriter, c.String("log-format"), c.String("log-level"))
			if err != nil {
				return cli.Exit(err.Error(), 1)
			}
			ctx, stop := signal.NotifyContext(c.Context, syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			keys, err := specKeys(c, spec)
			if err != nil {
				return err
			}
			if addr := c.String("metrics-listen"); addr != "" {
				if log, err = startMetrics(ctx, addr, spec.Table.Name, log); err != nil {
					return err
				}
			}
			reload := make(chan os.Signal, 1)
			signal.Notify(reload, syscall.SIGHUP)
			defer signal.Stop(reload)
			return runMonitor(ctx, spec, keys, log, c.Duration("reconcile"), c.Bool("apply"), reload)
		},
	}
}

// runMonitor guards knockc's table and serves spec's doors until ctx
// ends. A signal on reload re-reads the spec file (bounded, see
// compiler.Load): an invalid spec, or one the kernel refuses, is logged
// and the running one kept; a valid one is applied and its doors served.
func runMonitor(ctx context.Context, spec *compiler.Spec, keys topup.Keys, log *slog.Logger, reconcile time.Duration, apply bool, reload <-chan os.Signal) error {
	conn, err := nftkernel.Open("")
	if err != nil {
		return failOpen(err)
	}
	defer conn.Close()
	// The guard has its own connection: its reads and batches never wait
	// behind the doors' grants.
	gconn, err := nftkernel.Open("")
	if err != nil {
		return failOpen(err)
	}
	defer gconn.Close()
	guard := monitor.NewGuard(gconn, log, apply)
	restored := &restoreFlag{}
	guard.Restored = func(string, time.Duration) { restored.Store(true) }
	want := compiler.Compile(spec)
	var carry topup.Carry
	if apply {
		carry = topup.ReadBefore(conn, spec, keys)
		err = guard.Apply(want)
	} else {
		err = guard.Watch(want.Name)
	}
	if err != nil {
		return cli.Exit(withRemedy(err).Error(), 1)
	}
	if p, _, err := conn.Plan(want); err != nil {
		return fail(err)
	} else if !p.Empty() {
		log.Warn("the kernel's table differs from the spec: run knockc apply", "table", spec.Table.Name, "plan", p.Summary())
	}
	changes := make(chan nftkernel.Change, 1)
	watcher, err := gconn.Watch(ctx, changes)
	if err != nil {
		return fail(err)
	}
	defer watcher.Close()
	go guard.Run(ctx, changes, reconcile)

	daemon.SdNotify(false, daemon.SdNotifyReady) // no-op unless run by systemd with Type=notify
	for {
		run, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- serveDoors(run, spec, keys, carry, restored, conn, log, reconcile) }()
		next, nextKeys, nextCarry, err := waitReload(ctx, conn, spec, guard, log, done, reload)
		cancel()
		if next == nil {
			daemon.SdNotify(false, daemon.SdNotifyStopping)
			log.Info("monitor stopped")
			return err
		}
		<-done
		spec, keys, carry = next, nextKeys, nextCarry
		daemon.SdNotify(false, daemon.SdNotifyReady)
	}
}

// waitReload waits for the doors to stop (returning their error) or for a
// reload signal that brings a valid spec, which it applies and returns.
func waitReload(ctx context.Context, conn *nftkernel.Conn, spec *compiler.Spec, guard *monitor.Guard, log *slog.Logger, done <-chan error, reload <-chan os.Signal) (*compiler.Spec, topup.Keys, topup.Carry, error) {
	for {
		select {
		case err := <-done:
			return nil, nil, nil, err
		case <-ctx.Done():
			return nil, nil, nil, <-done
		case <-reload:
		}
		daemon.SdNotify(false, daemon.SdNotifyReloading)
		next, err := compiler.Load(spec.File)
		var keys topup.Keys
		if err == nil {
			keys, err = compiler.TokenKeys(next)
		}
		if err != nil {
			log.Error("reload: the spec is not valid; the running spec stays in force", "file", spec.File, "problems", strings.Join(problemLines(err), "; "))
			daemon.SdNotify(false, daemon.SdNotifyReady)
			continue
		}
		carry := topup.ReadBefore(conn, next, keys)
		if err := guard.Apply(compiler.Compile(next)); err != nil {
			log.Error("reload: applying the spec failed; the running spec stays in force", "file", spec.File, "err", err)
			daemon.SdNotify(false, daemon.SdNotifyReady)
			continue
		}
		if next.Table.Name != spec.Table.Name {
			log.Warn("reload: the spec names another table; the old one is left as it is (knockc down --table OLD removes it)", "old", spec.Table.Name, "new", next.Table.Name)
		}
		log.Info("reload: spec applied", "file", spec.File, "doors", len(next.Doors))
		return next, keys, carry, nil
	}
}

// problemLines returns each problem of a spec error on its own.
func problemLines(err error) []string {
	errs := compiler.Errors(err)
	if len(errs) == 0 {
		return []string{err.Error()}
	}
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = e.Error()
	}
	return out
}

// serveDoors connects the NFLOG events, the held packets and the services
// of spec to a monitor and runs it until ctx ends.
func serveDoors(ctx context.Context, spec *compiler.Spec, keys topup.Keys, carry topup.Carry, restored *restoreFlag, conn *nftkernel.Conn, log *slog.Logger, reconcile time.Duration) error {
	want := compiler.Compile(spec)
	raw := make(chan nftkernel.LogEvent, 1024)
	listener, err := nftkernel.ListenLog(ctx, "", spec.Table.LogGroup, raw)
	if err != nil {
		return fail(err)
	}
	defer listener.Close()
	services := map[string]monitor.Service{}
	for _, d := range spec.Doors {
		if svc := doorService(d); svc != nil {
			services[d.Name] = svc
		}
	}
	cfg := monitor.Config{Spec: spec, Kernel: conn, Services: services, Logger: log, Reconcile: reconcile}
	// The monitor keeps token doors topped up, and with --apply puts a
	// lost table back with the tokens it held (docs/tokens.md); its first
	// top-up follows its own apply, which may have recreated token sets.
	keeper := topup.NewKeeper(conn, restored, spec, keys, carry)
	if len(keys) > 0 {
		cfg.TopUp = keeper.TopUp
	}
	// The guard restores a lost table; the keeper hears of it at the next
	// tick and puts back the tokens the sets held (docs/tokens.md).
	cfg.Ensure = keeper.Ensure
	held := make(chan nftkernel.HeldPacket, 4096)
	if holds(spec) {
		q, err := nftkernel.ListenQueue(ctx, "", spec.Table.HoldQueue, heldQueueLen, held)
		if err != nil {
			return fail(err)
		}
		defer q.Close()
		cfg.Verdicts = q
	}
	m, err := monitor.New(cfg)
	if err != nil {
		return fail(err)
	}
	go watchAnswerPort(ctx, want, log, reconcile)
	log.Info("monitor ready", "table", spec.Table.Name, "doors", len(spec.Doors), "managed", len(services), "nflog_group", spec.Table.LogGroup, "hold_queue", cfg.Verdicts != nil)
	return m.Run(ctx, monitor.Events(ctx, raw, log), held, listener.Lost())
}

// restoreFlag tells the token keeper that the guard restored the table
// since it last asked: it is the keeper's Ensurer, which no longer applies
// anything itself (the guard does, on notification).
type restoreFlag struct{ atomic.Bool }

// Ensure reports whether the table was restored since the last call.
func (f *restoreFlag) Ensure(*ruleset.Table) (bool, error) { return f.Swap(false), nil }

// heldQueueLen bounds the packets the kernel holds in knockc's queue;
// more are dropped and counted by the kernel (their clients resend).
const heldQueueLen = 1024

// holds reports whether a managed door holds its pending knockers' packets.
func holds(spec *compiler.Spec) bool {
	for _, d := range spec.Doors {
		if d.Managed() && d.Hold {
			return true
		}
	}
	return false
}

// doorService returns the service a managed door starts and stops, ready
// once one of its protected TCP ports accepts locally; nil when unmanaged.
func doorService(d *compiler.Door) monitor.Service {
	var ports []uint16
	for _, p := range d.Protect {
		if p.Proto == ruleset.TCP {
			ports = append(ports, p.Port)
		}
	}
	switch {
	case d.Service != "":
		return service.Systemd(d.Service, service.WithReadyPorts(ports...))
	case len(d.StartCommand) > 0:
		return service.Command(d.StartCommand, d.StopCommand, service.WithReadyPorts(ports...))
	}
	return nil
}
