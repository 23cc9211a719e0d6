// Command knockc hides a host's services behind port knocking done by the
// kernel: it compiles a knock spec into nftables sets and rules, applies
// them in one atomic batch, and shows plans and live state. See README.md.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr))
}
