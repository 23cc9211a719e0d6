package main

import (
	"fmt"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/internal/view"
	"github.com/urfave/cli/v2"
)

func checkCommand() *cli.Command {
	return &cli.Command{
		Name:      "check",
		Usage:     "validate a knock spec: prints nothing and exits 0 when it is valid (warnings, such as a listed interface this host lacks, go to stderr), else every problem with file:line:col and exits 1",
		ArgsUsage: "FILE  (- reads stdin)",
		Flags:     []cli.Flag{jsonFlag},
		Action: func(c *cli.Context) error {
			spec, err := loadSpec(c, false)
			if err != nil {
				return err
			}
			// Token doors' key files are part of the spec: missing, or
			// readable by others, is a problem at the key's position.
			if _, err := compiler.TokenKeys(spec); err != nil {
				return specError(c.App.ErrWriter, err)
			}
			t := compiler.Compile(spec)
			warnInterfaces(c, spec.Table.Interfaces)
			for _, w := range compiler.Warnings(spec) {
				fmt.Fprintln(c.App.ErrWriter, "knockc: warning: "+w)
			}
			if c.Bool("json") {
				return view.WriteJSON(c.App.Writer, view.NewCheck(spec, t))
			}
			return nil
		},
	}
}
