//go:build linux

package main

import (
	"context"
	"log/slog"
	"os/signal"
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
			&cli.BoolFlag{Name: "apply", Usage: "apply the spec at start, and again whenever knockc's table is gone (e.g. after nft flush ruleset)"},
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
			return runMonitor(ctx, spec, keys, log, c.Duration("reconcile"), c.Bool("apply"))
		},
	}
}

// runMonitor connects the kernel, the NFLOG events and the services of
// spec to a monitor and runs it until ctx ends.
func runMonitor(ctx context.Context, spec *compiler.Spec, keys topup.Keys, log *slog.Logger, reconcile time.Duration, apply bool) error {
	conn, err := nftkernel.Open("")
	if err != nil {
		return failOpen(err)
	}
	defer conn.Close()
	want := compiler.Compile(spec)
	var carry topup.Carry
	if apply {
		carry = topup.ReadBefore(conn, spec, keys)
		_, have, err := conn.Plan(want)
		if err == nil {
			err = conn.Apply(want, have)
		}
		if err != nil {
			return cli.Exit(withRemedy(err).Error(), 1)
		}
	}
	if p, _, err := conn.Plan(want); err != nil {
		return cli.Exit(err.Error(), 1)
	} else if !p.Empty() {
		log.Warn("the kernel's table differs from the spec: run knockc apply", "table", spec.Table.Name, "plan", p.Summary())
	}
	raw := make(chan nftkernel.LogEvent, 1024)
	listener, err := nftkernel.ListenLog(ctx, "", spec.Table.LogGroup, raw)
	if err != nil {
		return cli.Exit(err.Error(), 1)
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
	keeper := topup.NewKeeper(conn, conn, spec, keys, carry)
	if len(keys) > 0 {
		cfg.TopUp = keeper.TopUp
	}
	if apply {
		cfg.Ensure = keeper.Ensure
	}
	held := make(chan nftkernel.HeldPacket, 4096)
	if holds(spec) {
		q, err := nftkernel.ListenQueue(ctx, "", spec.Table.HoldQueue, heldQueueLen, held)
		if err != nil {
			return cli.Exit(err.Error(), 1)
		}
		defer q.Close()
		cfg.Verdicts = q
	}
	m, err := monitor.New(cfg)
	if err != nil {
		return cli.Exit(err.Error(), 1)
	}
	go watchAnswerPort(ctx, want, log, reconcile)
	log.Info("monitor ready", "table", spec.Table.Name, "doors", len(spec.Doors), "managed", len(services), "nflog_group", spec.Table.LogGroup, "hold_queue", cfg.Verdicts != nil)
	daemon.SdNotify(false, daemon.SdNotifyReady) // no-op unless run by systemd with Type=notify
	err = m.Run(ctx, monitor.Events(ctx, raw, log), held, listener.Lost())
	daemon.SdNotify(false, daemon.SdNotifyStopping)
	log.Info("monitor stopped")
	return err
}

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
