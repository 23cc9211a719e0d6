//go:build linux

package main

import (
	"fmt"
	"io"
	"time"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/internal/topup"
	"github.com/knockc/knockc/ruleset/nftkernel"
	"github.com/urfave/cli/v2"
)

// specKeys reads the key files of spec's token doors, reporting problems
// as spec errors (file:line:col) before anything touches the kernel.
func specKeys(c *cli.Context, spec *compiler.Spec) (topup.Keys, error) {
	keys, err := compiler.TokenKeys(spec)
	if err != nil {
		return nil, specError(c.App.ErrWriter, err)
	}
	return keys, nil
}

// topUpTokens installs the tokens of spec's token doors that are due (a
// dry run only reports) and writes one line a key. Top-ups are state, not
// config: they never count as changes for --detailed-exitcode.
func topUpTokens(c *cli.Context, conn *nftkernel.Conn, spec *compiler.Spec, keys topup.Keys, dryRun bool) error {
	if len(keys) == 0 {
		return nil
	}
	now := time.Now()
	st, err := topup.Run(conn, spec, keys, now, dryRun)
	if err != nil {
		return fail(err)
	}
	if !c.Bool("json") {
		writeTokenLines(c.App.Writer, st, now, dryRun)
	}
	return nil
}

// writeTokenLines says, per key, how many tokens wait in the kernel and
// how long the door keeps opening without another top-up.
func writeTokenLines(w io.Writer, st []topup.Key, now time.Time, dryRun bool) {
	for _, k := range st {
		verb := "added"
		if dryRun {
			verb = "apply would add"
		}
		fmt.Fprintf(w, "Tokens of door %s key %s: %d unspent, %s %d; installed through %s; opens without a top-up until %s (%s).\n",
			k.Door, k.Key, k.Unspent, verb, k.Added, k.Through.UTC().Format(time.DateTime+" MST"),
			k.Works.UTC().Format(time.DateTime+" MST"), k.Left(now).Round(time.Second))
	}
}

// statusTokens prints the token lines of status for a spec given as a
// file (a spec on stdin was read already; its tokens are left out).
func statusTokens(c *cli.Context, conn *nftkernel.Conn) error {
	path := c.Args().First()
	if path == "" || path == "-" {
		return nil
	}
	spec, err := compiler.Load(path)
	if err != nil {
		return specError(c.App.ErrWriter, err)
	}
	keys, err := specKeys(c, spec)
	if err != nil {
		return err
	}
	return topUpTokens(c, conn, spec, keys, true)
}
