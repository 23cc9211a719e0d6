//go:build linux

package main

import (
	"context"
	"fmt"
	"net/netip"
	"os/signal"
	"syscall"
	"time"

	"github.com/knockc/knockc/internal/view"
	"github.com/knockc/knockc/ruleset/nftkernel"
	"github.com/urfave/cli/v2"
)

func traceCommand() *cli.Command {
	return &cli.Command{
		Name:      "trace",
		Usage:     "why didn't my knock work? show which rule each packet from ADDR hits, in knockc's words, while the command runs (nftables tracing; removed when it ends)",
		ArgsUsage: "ADDR [FILE]",
		Description: `Adds a table beside knockc's (TABLE_trace: one prerouting chain that only
sets nftrace on packets from ADDR and accepts everything) and prints the
kernel's trace of each such packet: every chain it passes, in knockc's table
and in the host's own, the rule that matched (knockc's rules by door, role
and step) and the verdict. The table is deleted when the command ends
(--for, or an interrupt). Nothing is traced for other sources, and the
verdicts are the same as without tracing.

Example: knockc trace 203.0.113.7 /etc/knockc/knock.toml, then knock from
203.0.113.7: the lines show each step advance, a wrong knock resetting the
sequence, or the host's firewall dropping the protected port.`,
		Flags: []cli.Flag{
			netnsFlag, jsonFlag, tableFlag,
			&cli.DurationFlag{Name: "for", Usage: "stop after this long (default: until interrupted)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 {
				return cli.Exit("trace needs the address to trace: knockc trace ADDR [FILE]", 1)
			}
			src, err := netip.ParseAddr(c.Args().First())
			if err != nil {
				return cli.Exit(fmt.Sprintf("trace: %q is not an IP address", c.Args().First()), 1)
			}
			name := c.String("table")
			if file := c.Args().Get(1); file != "" {
				spec, err := loadSpecPath(c, file)
				if err != nil {
					return err
				}
				name = spec.Table.Name
			}
			conn, err := nftkernel.Open(c.String("netns"))
			if err != nil {
				return failOpen(err)
			}
			defer conn.Close()
			ctx, stop := signal.NotifyContext(c.Context, syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			if d := c.Duration("for"); d > 0 {
				var cancel func()
				ctx, cancel = context.WithTimeout(ctx, d)
				defer cancel()
			}
			if !c.Bool("json") {
				fmt.Fprintf(c.App.ErrWriter, "knockc: tracing packets from %s through table inet %s and the host's tables; interrupt to stop\n", src, name)
			}
			packets := map[uint32]int{}
			var werr error
			err = conn.Trace(ctx, name, src, func(ev nftkernel.TraceEvent) {
				n, ok := packets[ev.ID]
				if !ok {
					n = len(packets) + 1
					packets[ev.ID] = n
				}
				v := view.TraceEvent{FormatVersion: view.FormatVersion, Time: time.Now(), Packet: n, Table: ev.Table, Chain: ev.Chain,
					Kind: ev.Kind, Verdict: ev.Verdict, DPort: int(ev.DPort)}
				if ev.Kind == "rule" {
					v.Rule = ev.Comment
					if v.Rule == "" {
						v.Rule = fmt.Sprintf("handle %d", ev.Handle)
					}
				}
				if ev.Src.IsValid() {
					v.Src, v.Dst, v.Proto = ev.Src.String(), ev.Dst.String(), view.ProtoName(ev.Proto)
				}
				if c.Bool("json") {
					if err := view.WriteJSONLine(c.App.Writer, v); err != nil && werr == nil {
						werr = err
					}
					return
				}
				v.WriteText(c.App.Writer)
			})
			if err != nil {
				return fail(err)
			}
			return werr
		},
	}
}
