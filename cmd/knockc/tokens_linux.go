//go:build linux

package main

import (
	"fmt"
	"io"
	"time"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/internal/topup"
	"github.com/knockc/knockc/internal/view"
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
// dry run only reads what is there) and returns each key's state. Top-ups
// are state, not config: they never count as changes for
// --detailed-exitcode.
//
// carry is what the token sets held before an apply's batch (nil when
// none was sent): a set the batch recreated gets its unspent tokens back
// and new ones only above its old mark.
func topUpTokens(conn *nftkernel.Conn, spec *compiler.Spec, keys topup.Keys, now time.Time, dryRun bool, carry topup.Carry) ([]view.TokenKey, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	st, err := topup.RunFrom(conn, spec, keys, now, dryRun, carry)
	if err != nil {
		return nil, fail(err)
	}
	out := make([]view.TokenKey, 0, len(st))
	for _, k := range st {
		out = append(out, view.TokenKey{
			Door: k.Door, Key: k.Key, Unspent: k.Unspent, Added: k.Added,
			InstalledThrough: k.Through.UTC(), WorksUntil: k.Works.UTC(), LeftSeconds: k.Left(now).Seconds(),
		})
	}
	return out, nil
}

// writeTokenLines says, per key, how many tokens wait in the kernel and
// how long the door keeps opening without another top-up.
func writeTokenLines(w io.Writer, st []view.TokenKey, dryRun bool) {
	for _, k := range st {
		verb := "added"
		if dryRun {
			verb = "apply would add"
		}
		left := time.Duration(k.LeftSeconds * float64(time.Second)).Round(time.Second)
		fmt.Fprintf(w, "Tokens of door %s key %s: %d unspent, %s %d; installed through %s; opens without a top-up until %s (%s).\n",
			k.Door, k.Key, k.Unspent, verb, k.Added, k.InstalledThrough.Format(time.DateTime+" MST"),
			k.WorksUntil.Format(time.DateTime+" MST"), left)
	}
}

// statusTokens returns the token state for status when its spec is given
// as a file (a spec on stdin was read already; its tokens are left out).
func statusTokens(c *cli.Context, conn *nftkernel.Conn) ([]view.TokenKey, error) {
	path := c.Args().First()
	if path == "" || path == "-" {
		return nil, nil
	}
	spec, err := compiler.Load(path)
	if err != nil {
		return nil, specError(c.App.ErrWriter, err)
	}
	keys, err := specKeys(c, spec)
	if err != nil {
		return nil, err
	}
	return topUpTokens(conn, spec, keys, time.Now(), true, nil)
}
