//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/ruleset"
	"github.com/knockc/knockc/ruleset/nftkernel"
	"github.com/urfave/cli/v2"
)

func planCommand() *cli.Command {
	return &cli.Command{
		Name:      "plan",
		Usage:     "show what apply would change in the kernel, without changing it",
		ArgsUsage: "FILE",
		Flags: []cli.Flag{
			netnsFlag, jsonFlag,
			&cli.BoolFlag{Name: "detailed-exitcode", Usage: "exit 0 with no changes, 1 on error, 2 when there are changes"},
		},
		Action: func(c *cli.Context) error {
			want, _, plan, conn, err := readState(c)
			if err != nil {
				return err
			}
			defer conn.Close()
			if err := printPlan(c.App.Writer, plan, want, c.Bool("json")); err != nil {
				return err
			}
			if q := want.Queue(); q != nil && !c.Bool("json") {
				mode, err := conn.QueueMode()
				if err != nil {
					return cli.Exit(err.Error(), 1)
				}
				fmt.Fprintf(c.App.Writer, "Held SYNs of pending knockers go to queue %d with the %s.\n", q.Num, mode)
			}
			if c.Bool("detailed-exitcode") && !plan.Empty() {
				return cli.Exit("", 2)
			}
			return nil
		},
	}
}

// readState loads the spec, compiles it, reads the present table and
// plans the difference.
func readState(c *cli.Context) (want, have *ruleset.Table, plan *ruleset.Plan, conn *nftkernel.Conn, err error) {
	spec, err := loadSpec(c, false)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	want = compiler.Compile(spec)
	conn, err = nftkernel.Open(c.String("netns"))
	if err != nil {
		return nil, nil, nil, nil, err
	}
	plan, have, err = conn.Plan(want)
	if err != nil {
		conn.Close()
		return nil, nil, nil, nil, err
	}
	return want, have, plan, conn, nil
}

// planJSON is the machine-readable plan.
type planJSON struct {
	*ruleset.Plan
	Add         int    `json:"add"`
	Change      int    `json:"change"`
	Destroy     int    `json:"destroy"`
	Resets      int    `json:"resets"`
	Summary     string `json:"summary"`
	MaxElements uint64 `json:"max_elements"`
	MaxBytes    uint64 `json:"max_kernel_bytes"`
	Applied     *bool  `json:"applied,omitempty"`
}

func newPlanJSON(p *ruleset.Plan, want *ruleset.Table) planJSON {
	a, c, d := p.Counts()
	out := planJSON{Plan: p, Add: a, Change: c, Destroy: d, Resets: p.Resets(), Summary: p.Summary()}
	if want != nil {
		out.MaxElements, out.MaxBytes = want.MaxMemory()
	}
	if out.Changes == nil {
		out.Changes = []ruleset.Change{}
	}
	return out
}

// printPlan writes the plan for people (terraform style) or as JSON.
func printPlan(w io.Writer, p *ruleset.Plan, want *ruleset.Table, asJSON bool) error {
	if asJSON {
		return writeJSON(w, newPlanJSON(p, want))
	}
	fmt.Fprint(w, p.String())
	if n := p.Resets(); n > 0 {
		fmt.Fprintf(w, "Warning: %d live %s (knocks in progress or grants) will be reset.\n", n, plural(n, "entry", "entries"))
	}
	if want != nil && !p.Empty() {
		elems, bytes := want.MaxMemory()
		fmt.Fprintln(w, memoryLine(want, elems, bytes)+".")
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
