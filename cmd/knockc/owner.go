//go:build linux

package main

import (
	"fmt"

	"github.com/knockc/knockc/ruleset"
	"github.com/knockc/knockc/ruleset/nftkernel"
	"github.com/urfave/cli/v2"
)

// adoptFlag lets plan and apply take over a table of knockc's name that
// knockc did not create (no marker chain: see docs/fail-closed.md).
var adoptFlag = &cli.BoolFlag{Name: "adopt", Usage: "take over a table of this name that knockc did not create (an older knockc's, or one made by hand); its contents are replaced"}

// forceFlag lets down delete a table knockc did not create.
var forceFlag = &cli.BoolFlag{Name: "force", Usage: "delete the table even though knockc did not create it"}

// ownedOrRefuse returns an exit error when the table named in want is
// there but not knockc's and --adopt was not given.
func ownedOrRefuse(c *cli.Context, conn *nftkernel.Conn, want *ruleset.Table, what string) error {
	_, own, _, err := conn.ReadOwned(want.Name)
	if err != nil {
		return fail(err)
	}
	if own == nftkernel.Foreign {
		if !c.Bool("adopt") {
			return fail(nftkernel.NotOwnedError(want.Name, what))
		}
		fmt.Fprintf(c.App.ErrWriter, "knockc: table inet %s was not created by knockc; --adopt: knockc takes it over and replaces what it holds\n", want.Name)
	}
	return nil
}
