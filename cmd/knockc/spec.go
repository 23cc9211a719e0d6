package main

import (
	"fmt"
	"io"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/examples"
	"github.com/urfave/cli/v2"
)

// stdinName stands for the spec in positions when it comes from stdin.
const stdinName = "<stdin>"

// loadSpec loads the spec named by the first argument ("-": stdin). With
// no argument and allowDefault, it loads the built-in default (examples'
// classic door) and says so on stderr.
func loadSpec(c *cli.Context, allowDefault bool) (*compiler.Spec, error) {
	if c.NArg() > 1 {
		return nil, cli.Exit(fmt.Sprintf("%s takes one spec file, got %d arguments (%q…); flags may come before or after it", c.Command.Name, c.NArg(), c.Args().Get(1)), 1)
	}
	switch path := c.Args().First(); path {
	case "-":
		data, err := io.ReadAll(io.LimitReader(c.App.Reader, compiler.MaxSpecBytes+1)) // Parse refuses more
		if err != nil {
			return nil, fail(fmt.Errorf("read spec from stdin: %w", err))
		}
		return parsed(c, stdinName, data)
	case "":
	default:
		spec, err := compiler.Load(path)
		if err != nil {
			return nil, specError(c.App.ErrWriter, err)
		}
		return spec, nil
	}
	if !allowDefault {
		return nil, cli.Exit(fmt.Sprintf("%s needs a spec file (or - for stdin): knockc %s knock.toml", c.Command.Name, c.Command.Name), 1)
	}
	data, err := examples.FS.ReadFile(examples.Default)
	if err != nil {
		return nil, fmt.Errorf("read built-in default spec: %w", err)
	}
	fmt.Fprintf(c.App.ErrWriter, "knockc: no spec given; using the built-in default (examples/%s)\n", examples.Default)
	return parsed(c, "examples/"+examples.Default, data)
}

// loadSpecPath loads the spec at path ("-": stdin), for commands whose
// spec is not their first argument.
func loadSpecPath(c *cli.Context, path string) (*compiler.Spec, error) {
	if path == "-" {
		data, err := io.ReadAll(c.App.Reader)
		if err != nil {
			return nil, fail(fmt.Errorf("read spec from stdin: %w", err))
		}
		return parsed(c, stdinName, data)
	}
	spec, err := compiler.Load(path)
	if err != nil {
		return nil, specError(c.App.ErrWriter, err)
	}
	return spec, nil
}

func parsed(c *cli.Context, name string, data []byte) (*compiler.Spec, error) {
	spec, err := compiler.Parse(name, data)
	if err != nil {
		return nil, specError(c.App.ErrWriter, err)
	}
	return spec, nil
}

// specError prints every problem of a spec on its own line and returns
// exit code 1 with a count; the problems stay reachable for --json.
func specError(w io.Writer, err error) error {
	errs := compiler.Errors(err)
	if len(errs) == 0 {
		return fail(err)
	}
	for _, e := range errs {
		fmt.Fprintln(w, e)
	}
	return &cmdError{msg: fmt.Sprintf("the spec has %d %s; nothing was changed", len(errs), plural(len(errs), "problem", "problems")), code: 1, err: err}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
