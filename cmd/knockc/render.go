package main

import (
	"fmt"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/internal/view"
	"github.com/knockc/knockc/ruleset"
	"github.com/urfave/cli/v2"
)

func renderCommand() *cli.Command {
	return &cli.Command{
		Name:      "render",
		Usage:     "print the nftables ruleset a spec compiles to, in nft syntax (`nft -f` loads it; a door that holds SYNs needs nft_queue for that); no root needed",
		ArgsUsage: "[FILE]  (- reads stdin; default: the built-in classic SSH door)",
		Action: func(c *cli.Context) error {
			spec, err := loadSpec(c, true)
			if err != nil {
				return err
			}
			t := compiler.Compile(spec)
			fmt.Fprint(c.App.Writer, renderHeader(spec, t))
			fmt.Fprint(c.App.Writer, ruleset.Render(t))
			return nil
		},
	}
}

// renderHeader states, as nft comments, where the ruleset comes from and
// the kernel memory its set sizes allow.
func renderHeader(spec *compiler.Spec, t *ruleset.Table) string {
	head := fmt.Sprintf("# knockc %s: ruleset for %s (%d %s)\n# %s\n",
		version, spec.File, len(spec.Doors), plural(len(spec.Doors), "door", "doors"), view.NewMemory(t).Line())
	if q := t.Queue(); q != nil {
		head += fmt.Sprintf("# held SYNs: \"queue num %d\" needs nft_queue; on a kernel without it, apply uses the xt NFQUEUE target instead (knockc plan says which)\n", q.Num)
	}
	return head
}
