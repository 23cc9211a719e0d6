package main

import (
	"fmt"
	"io"
	"os"

	"github.com/knockc/knockc/internal/knockdconf"
	"github.com/urfave/cli/v2"
)

// exitUntranslated is import's exit code under --strict when some of
// knockd.conf was not translated.
const exitUntranslated = 3

func importCommand() *cli.Command {
	return &cli.Command{
		Name:      "import",
		Usage:     "translate a knockd configuration into a knock spec: the spec on stdout, what could not be translated on stderr",
		ArgsUsage: "FILE  (a knockd.conf; - reads stdin)",
		Description: `Reads knockd.conf as knockd 0.8 does and writes the equivalent knock spec.
Each command is read as /bin/sh would split it (&&, ;, a trailing # comment),
and each part for what it means: iptables/ip6tables, ufw, firewall-cmd rich
rules, nft rules and set elements, knockd's knock_add and knock_helper_ipt.sh
that let %IP% in become protect; service, systemctl and init scripts become
service = "X.service". A section and the one that undoes it (deletes the same
rule, stops the same service) become one door with a close_sequence, whatever
they are called; start_command/cmd_timeout/stop_command becomes open_for.
Everything else is reported as "FILE:LINE: what: what knockc does instead
and the key to write"; a door that cannot be completed is written out
commented, for you to finish. See docs/import.md.

Files larger than 1 MiB, with more than 20000 lines, a line longer than 4096
bytes or more than 100 sections are refused.

Exit status: 0 when a spec with at least one door was written (warnings, if
any, on stderr); 3 when not a single door could be translated (the spec
written has them commented out, to be finished), or with --strict when
anything was not translated; 1 when the file cannot be read.

Example:
  knockc import /etc/knockd.conf > knock.toml && knockc check knock.toml`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "strict", Usage: fmt.Sprintf("exit %d when any line could not be translated (the spec is still written)", exitUntranslated)},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return cli.Exit("import takes one knockd configuration: knockc import /etc/knockd.conf > knock.toml", 1)
			}
			name := c.Args().First()
			data, err := readInput(c.App.Reader, name)
			if err != nil {
				return cli.Exit(fmt.Sprintf("import: %v", err), 1)
			}
			if name == "-" {
				name = "stdin"
			}
			res, err := knockdconf.Convert(name, data, knockdconf.Options{Services: knockdconf.SystemServices()})
			if err != nil {
				return cli.Exit(fmt.Sprintf("import: %v", err), 1)
			}
			if _, err := c.App.Writer.Write(res.Spec); err != nil {
				return fmt.Errorf("import: write spec: %w", err)
			}
			for _, w := range res.Warnings {
				fmt.Fprintln(c.App.ErrWriter, w)
			}
			switch {
			case res.Doors == 0:
				return cli.Exit(fmt.Sprintf("import: no door of %s could be translated; the spec written has them commented out, to be finished (see above)", name), exitUntranslated)
			case len(res.Warnings) > 0 && c.Bool("strict"):
				return cli.Exit(fmt.Sprintf("import: %d %s of %s not translated (--strict)", len(res.Warnings), plural(len(res.Warnings), "line", "lines"), name), exitUntranslated)
			case len(res.Warnings) > 0:
				fmt.Fprintf(c.App.ErrWriter, "knockc: translated %d %s; %d %s of %s not translated (see above)\n",
					res.Doors, plural(res.Doors, "door", "doors"), len(res.Warnings), plural(len(res.Warnings), "line", "lines"), name)
			}
			return nil
		},
	}
}

// readInput reads the file at path, or r when path is "-", at most as much
// as a knockd configuration may hold (knockdconf.Read).
func readInput(r io.Reader, path string) ([]byte, error) {
	if path == "-" {
		if r == nil {
			r = os.Stdin
		}
		data, err := knockdconf.Read(r)
		if err != nil {
			return nil, fmt.Errorf("read stdin: %w", err)
		}
		return data, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read knockd configuration: %w", err)
	}
	defer f.Close()
	data, err := knockdconf.Read(f)
	if err != nil {
		return nil, fmt.Errorf("read knockd configuration %s: %w", path, err)
	}
	return data, nil
}
