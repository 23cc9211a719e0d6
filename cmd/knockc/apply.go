//go:build linux

package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

func applyCommand() *cli.Command {
	return &cli.Command{
		Name:      "apply",
		Usage:     "create or update knockc's table in one atomic batch; live knocks and grants survive; an unchanged spec sends nothing",
		ArgsUsage: "FILE",
		Flags:     []cli.Flag{netnsFlag, jsonFlag},
		Action: func(c *cli.Context) error {
			want, have, plan, conn, err := readState(c)
			if err != nil {
				return err
			}
			defer conn.Close()
			asJSON := c.Bool("json")
			if !asJSON {
				if plan.Empty() {
					fmt.Fprintf(c.App.Writer, "No changes. Table inet %s is up to date.\n", want.Name)
					return nil
				}
				if err := printPlan(c.App.Writer, plan, want, false); err != nil {
					return err
				}
			}
			if err := conn.Apply(want, have); err != nil {
				return cli.Exit(err.Error(), 1)
			}
			if asJSON {
				out := newPlanJSON(plan, want)
				applied := !plan.Empty()
				out.Applied = &applied
				return writeJSON(c.App.Writer, out)
			}
			a, ch, d := plan.Counts()
			fmt.Fprintf(c.App.Writer, "Apply complete! %d added, %d changed, %d destroyed.\n", a, ch, d)
			return nil
		},
	}
}
