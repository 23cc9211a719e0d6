// Command knockc hides a host's services behind port knocking done by the
// kernel: it compiles a knock spec into nftables sets and rules, applies
// them in one atomic batch, and shows plans and live state. See README.md.
package main

import (
	"os"
)

// The man page and the bash completion under dist/ are made from the
// command definitions: go generate rewrites them, and a test fails when the
// committed ones are not current.
//go:generate go test -run TestGeneratedFiles -update .

func main() {
	os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr))
}
