//go:build linux

package main

import (
	"context"
	"fmt"
	"os/signal"
	"syscall"
	"time"

	"github.com/knockc/knockc/internal/view"
	"github.com/knockc/knockc/ruleset"
	"github.com/urfave/cli/v2"
)

func watchCommand() *cli.Command {
	return &cli.Command{
		Name:      "watch",
		Usage:     "follow knocks as they happen: each step a source completes, pending and granted sources, grants that end (reads knockc's sets; no packet reaches userspace)",
		ArgsUsage: "[FILE]  (- reads stdin)",
		Description: `Reads the door sets every --interval and prints what changed, one line per
event: a source that completed a step of a sequence, dropped out of one (too
slow, or a wrong knock in strict mode), became pending, was granted, or whose
grant ended. With --json each event is one JSON object per line (NDJSON,
docs/operations.md). A knock faster than --interval may show only its end.`,
		Flags: []cli.Flag{
			netnsFlag, jsonFlag, tableFlag,
			&cli.DurationFlag{Name: "interval", Value: 200 * time.Millisecond, Usage: "how often to read the sets"},
			&cli.DurationFlag{Name: "for", Usage: "stop after this long (default: until interrupted)"},
		},
		Action: func(c *cli.Context) error {
			name, conn, err := openTable(c)
			if err != nil {
				return err
			}
			defer conn.Close()
			ctx, stop := signal.NotifyContext(c.Context, syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			if d := c.Duration("for"); d > 0 {
				var cancel func()
				ctx, cancel = context.WithTimeout(ctx, d)
				defer cancel()
			}
			var t *ruleset.Table
			prev := view.Snapshot(nil)
			tick := time.NewTicker(max(c.Duration("interval"), 10*time.Millisecond))
			defer tick.Stop()
			for {
				if t == nil {
					if t, err = conn.ReadConfig(name); err != nil {
						return fail(err)
					}
					if t == nil {
						return &cmdError{msg: fmt.Sprintf("table inet %s is not in the kernel: run knockc apply first", name), code: 1, kind: view.KindNotFound}
					}
				}
				for _, s := range t.Sets {
					if s.Elements, err = conn.Elements(name, s.Name); err != nil {
						t = nil // the table changed under us: read it again
						break
					}
				}
				if t != nil {
					snap := view.NewSnapshot(t)
					if prev != nil {
						for _, ev := range view.Changes(prev, snap, time.Now()) {
							if c.Bool("json") {
								if err := view.WriteJSONLine(c.App.Writer, ev); err != nil {
									return err
								}
							} else {
								ev.WriteText(c.App.Writer)
							}
						}
					} else if !c.Bool("json") {
						fmt.Fprintf(c.App.Writer, "watching table inet %s (%d sets every %s); interrupt to stop\n", name, len(t.Sets), c.Duration("interval"))
					}
					prev = snap
				}
				select {
				case <-ctx.Done():
					return nil
				case <-tick.C:
				}
			}
		},
	}
}
