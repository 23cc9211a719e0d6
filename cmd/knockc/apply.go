//go:build linux

package main

import (
	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/internal/view"
	"github.com/urfave/cli/v2"
)

func applyCommand() *cli.Command {
	return &cli.Command{
		Name:      "apply",
		Usage:     "create or update knockc's table in one atomic batch; live knocks and grants survive; an unchanged spec sends nothing",
		ArgsUsage: "FILE  (- reads stdin)",
		Flags:     []cli.Flag{netnsFlag, jsonFlag, detailedExitcodeFlag},
		Action: func(c *cli.Context) error {
			want, have, plan, conn, err := readState(c)
			if err != nil {
				return err
			}
			defer conn.Close()
			warnInterfaces(c, compiler.KnockInterfaces(want))
			v := view.NewApply(plan, want)
			asJSON := c.Bool("json")
			if !v.Empty() {
				if !asJSON {
					v.Plan.WriteText(c.App.Writer)
				}
				if err := conn.Apply(want, have); err != nil {
					return fail(err)
				}
			}
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
