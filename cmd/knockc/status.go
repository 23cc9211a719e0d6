//go:build linux

package main

import (
	"fmt"
	"io"
	"time"

	"github.com/knockc/knockc/compiler"
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
	return name, conn, err
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
		ArgsUsage: "[FILE]",
		Flags:     []cli.Flag{netnsFlag, jsonFlag, tableFlag},
		Action: func(c *cli.Context) error {
			name, conn, err := openTable(c)
			if err != nil {
				return err
			}
			defer conn.Close()
			t, err := conn.Read(name)
			if err != nil {
				return err
			}
			if t == nil {
				return cli.Exit(fmt.Sprintf("table inet %s is not in the kernel: run knockc apply first", name), 1)
			}
			st := compiler.Status(t)
			held := ""
			if q := t.Queue(); q != nil {
				mode := nftkernel.QueueNative
				if q.XT {
					mode = nftkernel.QueueXT
				}
				held = fmt.Sprintf("queue %d, %s", q.Num, mode)
			}
			if c.Bool("json") {
				return writeJSON(c.App.Writer, map[string]any{"table": name, "doors": st, "held_syns": held})
			}
			printStatus(c.App.Writer, name, st)
			if held != "" {
				fmt.Fprintf(c.App.Writer, "\nheld SYNs of pending knockers: %s\n", held)
			}
			return nil
		},
	}
}

func printStatus(w io.Writer, table string, doors []compiler.DoorStatus) {
	fmt.Fprintf(w, "table inet %s: %d %s\n", table, len(doors), plural(len(doors), "door", "doors"))
	for _, d := range doors {
		fmt.Fprintf(w, "\ndoor %s\n", d.Door)
		busy := 0
		for _, s := range d.InProgress {
			if s.Sources > 0 {
				fmt.Fprintf(w, "  %s sequence: %d %s past step %d\n", s.Seq, s.Sources, plural(s.Sources, "source", "sources"), s.Step)
				busy++
			}
		}
		if busy == 0 {
			fmt.Fprintln(w, "  no knocks in progress")
		}
		for _, g := range d.Pending {
			fmt.Fprintf(w, "  pending %-39s %s left to start the service\n", g.Addr, g.Left.Round(time.Second))
		}
		if len(d.Grants) == 0 {
			fmt.Fprintln(w, "  no grants")
		}
		for _, g := range d.Grants {
			fmt.Fprintf(w, "  granted %-39s %s left\n", g.Addr, g.Left.Round(time.Second))
		}
	}
}
