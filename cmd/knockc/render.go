package main

import (
	"fmt"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/examples"
	"github.com/knockc/knockc/internal/view"
	"github.com/knockc/knockc/ruleset"
	"github.com/urfave/cli/v2"
)

func renderCommand() *cli.Command {
	return &cli.Command{
		Name:      "render",
		Usage:     "print the nftables ruleset a spec compiles to, in nft syntax (`nft -f` loads it; a door that holds SYNs needs nft_queue for that); no root needed",
		ArgsUsage: "[FILE]  (- reads stdin; default: the built-in classic SSH door)",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "polkit", Usage: "print instead the polkit rule that lets the monitor's user (knockc) start and stop exactly the units the spec's doors name, for /etc/polkit-1/rules.d/" + examples.PolkitRuleFile},
		},
		Action: func(c *cli.Context) error {
			spec, err := loadSpec(c, true)
			if err != nil {
				return err
			}
			if c.Bool("polkit") {
				return renderPolkit(c, spec)
			}
			t := compiler.Compile(spec)
			fmt.Fprint(c.App.Writer, renderHeader(spec, t))
			fmt.Fprint(c.App.Writer, ruleset.Render(t))
			return nil
		},
	}
}

// renderPolkit prints the polkit rule for the units spec's doors manage.
func renderPolkit(c *cli.Context, spec *compiler.Spec) error {
	var units []string
	seen := map[string]bool{}
	for _, d := range spec.Doors {
		if d.Service != "" && !seen[d.Service] {
			seen[d.Service] = true
			units = append(units, d.Service)
		}
	}
	rule, err := examples.PolkitRule(units)
	if err != nil {
		return cli.Exit(err.Error(), 1)
	}
	if len(units) == 0 {
		fmt.Fprintf(c.App.ErrWriter, "knockc: no door of %s names a systemd unit (service = ...): this rule lets the monitor start none\n", spec.File)
	}
	fmt.Fprint(c.App.Writer, rule)
	return nil
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
