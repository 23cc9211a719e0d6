//go:build linux

package main

import (
	"fmt"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/internal/view"
	"github.com/knockc/knockc/ruleset/nftkernel"
	"github.com/urfave/cli/v2"
)

var tableFlag = &cli.StringFlag{
	Name:  "table",
	Value: compiler.DefaultTableName,
	Usage: "knockc's table name, when no spec file is given",
}

// openTable returns the name of knockc's table (from the spec given as
// argument, or --table) and a connection to the kernel in --netns.
func openTable(c *cli.Context) (string, *nftkernel.Conn, error) {
	name, err := tableName(c)
	if err != nil {
		return "", nil, err
	}
	conn, err := nftkernel.Open(c.String("netns"))
	if err != nil {
		return "", nil, failOpen(err)
	}
	return name, conn, nil
}

// tableName returns the table of the spec given as argument, or --table.
func tableName(c *cli.Context) (string, error) {
	if c.NArg() == 0 {
		return c.String("table"), nil
	}
	spec, err := loadSpec(c, false)
	if err != nil {
		return "", err
	}
	return spec.Table.Name, nil
}

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:      "status",
		Usage:     "show each door's knocks in progress and granted addresses with the time they have left",
		ArgsUsage: "[FILE]  (- reads stdin)",
		Flags:     []cli.Flag{netnsFlag, jsonFlag, tableFlag},
		Action: func(c *cli.Context) error {
			name, conn, err := openTable(c)
			if err != nil {
				return err
			}
			defer conn.Close()
			t, err := conn.Read(name)
			if err != nil {
				return fail(err)
			}
			if t == nil {
				return &cmdError{msg: fmt.Sprintf("table inet %s is not in the kernel: run knockc apply first", name), code: 1, kind: view.KindNotFound}
			}
			v := view.NewStatus(t)
			v.KnockInterfaces = compiler.KnockInterfaces(t)
			missing, _, err := missingInterfaces(c, v.KnockInterfaces)
			if err != nil {
				fmt.Fprintf(c.App.ErrWriter, "knockc: warning: cannot check table.interfaces: %v\n", err)
			}
			v.MissingInterfaces = missing
			if v.Tokens, err = statusTokens(c, conn); err != nil {
				return err
			}
			if c.Bool("json") {
				return view.WriteJSON(c.App.Writer, v)
			}
			v.WriteText(c.App.Writer)
			writeTokenLines(c.App.Writer, v.Tokens, true)
			return nil
		},
	}
}
