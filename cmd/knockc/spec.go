package main

import (
	"fmt"
	"io"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/examples"
	"github.com/urfave/cli/v2"
)

// loadSpec loads the spec named by the first argument. With no argument
// and allowDefault, it loads the built-in default (examples' classic door)
// and says so on stderr.
func loadSpec(c *cli.Context, allowDefault bool) (*compiler.Spec, error) {
	if c.NArg() > 1 {
		return nil, cli.Exit(fmt.Sprintf("%s takes one spec file, got %d arguments", c.Command.Name, c.NArg()), 1)
	}
	if path := c.Args().First(); path != "" {
		spec, err := compiler.Load(path)
		if err != nil {
			return nil, specError(c.App.ErrWriter, err)
		}
		return spec, nil
	}
	if !allowDefault {
		return nil, cli.Exit(fmt.Sprintf("%s needs a spec file: knockc %s knock.toml", c.Command.Name, c.Command.Name), 1)
	}
	data, err := examples.FS.ReadFile(examples.Default)
	if err != nil {
		return nil, fmt.Errorf("read built-in default spec: %w", err)
	}
	fmt.Fprintf(c.App.ErrWriter, "knockc: no spec given; using the built-in default (examples/%s)\n", examples.Default)
	spec, err := compiler.Parse("examples/"+examples.Default, data)
	if err != nil {
		return nil, specError(c.App.ErrWriter, err)
	}
	return spec, nil
}

// specError prints every problem of a spec on its own line and returns
// exit code 1 with a count.
func specError(w io.Writer, err error) error {
	errs := compiler.Errors(err)
	if len(errs) == 0 {
		return cli.Exit(err.Error(), 1)
	}
	for _, e := range errs {
		fmt.Fprintln(w, e)
	}
	return cli.Exit(fmt.Sprintf("the spec has %d %s; nothing was changed", len(errs), plural(len(errs), "problem", "problems")), 1)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
