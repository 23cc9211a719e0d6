//go:build linux

package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/internal/topup"
	"github.com/knockc/knockc/internal/view"
	"github.com/knockc/knockc/ruleset"
	"github.com/knockc/knockc/ruleset/nftkernel"
	"github.com/urfave/cli/v2"
)

func applyCommand() *cli.Command {
	return &cli.Command{
		Name:      "apply",
		Usage:     "create or update knockc's table in one atomic batch; live knocks and grants survive; an unchanged spec sends nothing",
		ArgsUsage: "FILE  (- reads stdin)",
		Flags:     []cli.Flag{netnsFlag, jsonFlag, detailedExitcodeFlag, adoptFlag},
		Action: func(c *cli.Context) error {
			spec, keys, want, _, _, conn, err := readStateKeys(c)
			if err != nil {
				return err
			}
			defer conn.Close()
			warnInterfaces(c, compiler.KnockInterfaces(want))
			if err := checkAnswerPort(c, want); err != nil {
				return err
			}
			asJSON := c.Bool("json")
			// Update plans again from what it reads, and again whenever
			// another writer commits first (the batch carries the ruleset
			// generation it was planned from: docs/fail-closed.md).
			// A batch that recreates a token set empties it: what it held
			// is read first and put back by the top-up (docs/tokens.md).
			carry := topup.ReadBefore(conn, spec, keys)
			res, err := conn.Update(want, nftkernel.UpdateOptions{
				Adopt: c.Bool("adopt"),
				OnPlan: func(p *ruleset.Plan, attempt int) {
					// An empty plan is said once, by the closing line.
					if asJSON || p.Empty() {
						return
					}
					if attempt > 1 {
						fmt.Fprintln(c.App.Writer, "The ruleset changed while applying (another writer); planned again:")
					}
					view.NewPlan(p, want).WriteText(c.App.Writer)
				},
			})
			if err != nil {
				return fail(withRemedy(err))
			}
			if res.Ownership == nftkernel.Foreign {
				fmt.Fprintf(c.App.ErrWriter, "knockc: took over table inet %s (--adopt)\n", want.Name)
			}
			// A top-up is state: it never counts as a change.
			tokens, err := topUpTokens(conn, spec, keys, time.Now(), false, carry)
			if err != nil {
				return err
			}
			if !asJSON {
				writeTokenLines(c.App.Writer, tokens, false)
			}
			v := view.NewApply(res.Plan, want)
			v.Tokens = tokens
			v.Applied = res.Sent
			if asJSON {
				if err := view.WriteJSON(c.App.Writer, v); err != nil {
					return err
				}
			} else {
				v.WriteText(c.App.Writer)
			}
			if c.Bool("detailed-exitcode") && v.Applied {
				return cli.Exit("", 2)
			}
			return nil
		},
	}
}

// withRemedy adds what the operator should do to a failed apply: after a
// socket failure the batch may or may not be in, and after a read-back
// that differs something else is in, so look before trying again. A
// rejected batch changed nothing and needs no remedy beyond its own
// message.
func withRemedy(err error) error {
	var ae *nftkernel.ApplyError
	if errors.As(err, &ae) && !ae.Rejected || errors.Is(err, nftkernel.ErrReadBackDiffers) {
		return fmt.Errorf("%w; run knockc plan to see what is in place", err)
	}
	return err
}
