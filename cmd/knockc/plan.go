//go:build linux

package main

import (
	"fmt"
	"time"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/internal/topup"
	"github.com/knockc/knockc/internal/view"
	"github.com/knockc/knockc/ruleset"
	"github.com/knockc/knockc/ruleset/nftkernel"
	"github.com/urfave/cli/v2"
)

// detailedExitcodeFlag makes plan and apply tell "no changes" from
// "changes" by exit code, as terraform does.
var detailedExitcodeFlag = &cli.BoolFlag{Name: "detailed-exitcode", Usage: "exit 0 with no changes, 1 on error, 2 when there are (plan) or were (apply) changes"}

// operationsFlag makes plan print the transaction itself.
var operationsFlag = &cli.BoolFlag{Name: "operations", Usage: "print the batch apply would send, one operation a line in nft syntax (an nft -f script), instead of the changes"}

func planCommand() *cli.Command {
	return &cli.Command{
		Name:      "plan",
		Usage:     "show what apply would change in the kernel, without changing it",
		ArgsUsage: "FILE  (- reads stdin)",
		Flags:     []cli.Flag{netnsFlag, jsonFlag, detailedExitcodeFlag, adoptFlag, operationsFlag},
		Action: func(c *cli.Context) error {
			spec, keys, want, _, plan, conn, err := readStateKeys(c)
			if err != nil {
				return err
			}
			defer conn.Close()
			if err := ownedOrRefuse(c, conn, want, "plan changes to"); err != nil {
				return err
			}
			if c.Bool("operations") {
				return writeOperations(c, plan)
			}
			v := view.NewPlan(plan, want)
			// Tokens due are state: reported, never a change (docs/tokens.md).
			if v.Tokens, err = topUpTokens(conn, spec, keys, time.Now(), true, nil); err != nil {
				return err
			}
			if !c.Bool("json") {
				defer writeTokenLines(c.App.Writer, v.Tokens, true)
			}
			if q := want.Queue(); q != nil {
				mode, err := conn.QueueMode()
				if err != nil {
					return fail(err)
				}
				v.HeldSYNs = view.NewHeldSYNs(q, mode == nftkernel.QueueXT)
				if !c.Bool("json") {
					defer fmt.Fprintf(c.App.Writer, "Held SYNs of pending knockers go to queue %d with the %s.\n", q.Num, mode)
				}
			}
			if c.Bool("json") {
				if err := view.WriteJSON(c.App.Writer, v); err != nil {
					return err
				}
			} else {
				v.WriteText(c.App.Writer)
			}
			if c.Bool("detailed-exitcode") && !v.Empty() {
				return cli.Exit("", 2)
			}
			return nil
		},
	}
}

// readStateKeys loads the spec and the key files of its token doors (read
// before the kernel is), compiles it, reads the present table and plans
// the difference.
func readStateKeys(c *cli.Context) (spec *compiler.Spec, keys topup.Keys, want, have *ruleset.Table, plan *ruleset.Plan, conn *nftkernel.Conn, err error) {
	fail7 := func(err error) (*compiler.Spec, topup.Keys, *ruleset.Table, *ruleset.Table, *ruleset.Plan, *nftkernel.Conn, error) {
		return nil, nil, nil, nil, nil, nil, err
	}
	spec, err = loadSpec(c, false)
	if err != nil {
		return fail7(err)
	}
	if keys, err = specKeys(c, spec); err != nil {
		return fail7(err)
	}
	want, have, plan, conn, err = planSpec(c, spec)
	return spec, keys, want, have, plan, conn, err
}

// planSpec compiles spec, reads the present table and plans the difference.
func planSpec(c *cli.Context, spec *compiler.Spec) (want, have *ruleset.Table, plan *ruleset.Plan, conn *nftkernel.Conn, err error) {
	want = compiler.Compile(spec)
	conn, err = nftkernel.Open(c.String("netns"))
	if err != nil {
		return nil, nil, nil, nil, failOpen(err)
	}
	plan, have, err = conn.Plan(want)
	if err != nil {
		conn.Close()
		return nil, nil, nil, nil, fail(err)
	}
	return want, have, plan, conn, nil
}

// writeOperations prints plan's transaction, exactly the operations apply
// sends, one a line; a plan with none says so as plan does.
func writeOperations(c *cli.Context, plan *ruleset.Plan) error {
	if len(plan.Ops) == 0 {
		view.NewPlan(plan, nil).WriteText(c.App.Writer)
	} else {
		fmt.Fprint(c.App.Writer, ruleset.Script(plan.Ops))
	}
	if c.Bool("detailed-exitcode") && !plan.Empty() {
		return cli.Exit("", 2)
	}
	return nil
}
