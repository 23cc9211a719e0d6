//go:build linux

package main

import (
	"fmt"

	"github.com/knockc/knockc/ruleset/nftkernel"
	"github.com/urfave/cli/v2"
)

func downCommand() *cli.Command {
	return &cli.Command{
		Name:      "down",
		Usage:     "remove knockc's table in one batch (established sessions survive; protected ports fall back to the host's firewall)",
		ArgsUsage: "[FILE]",
		Flags:     []cli.Flag{netnsFlag, tableFlag, forceFlag},
		Action: func(c *cli.Context) error {
			name, conn, err := openTable(c)
			if err != nil {
				return err
			}
			defer conn.Close()
			have, own, _, err := conn.ReadOwned(name)
			if err != nil {
				return fail(err)
			}
			if own == nftkernel.Foreign && !c.Bool("force") {
				return fail(nftkernel.NotOwnedError(name, "delete"))
			}
			if have == nil {
				fmt.Fprintf(c.App.Writer, "Table inet %s is not there; nothing to do.\n", name)
				return nil
			}
			if err := conn.Delete(name); err != nil {
				return fail(err)
			}
			fmt.Fprintf(c.App.Writer, "Table inet %s removed.\n", name)
			return nil
		},
	}
}
