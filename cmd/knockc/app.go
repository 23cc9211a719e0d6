package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// run executes the CLI with args and returns the process exit code.
// Results go to stdout, diagnostics to stderr.
func run(args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	err := app.Run(args)
	if err == nil {
		return 0
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		if msg := ec.Error(); msg != "" {
			fmt.Fprintln(stderr, "knockc:", msg)
		}
		return ec.ExitCode()
	}
	fmt.Fprintln(stderr, "knockc:", err)
	return 1
}

// newApp wires the commands; each one only turns flags into library calls.
func newApp(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:                 "knockc",
		Usage:                "port knocking done by the kernel, on nftables",
		Version:              version,
		Writer:               stdout,
		ErrWriter:            stderr,
		EnableBashCompletion: true,
		HideHelpCommand:      true,
		ExitErrHandler:       func(*cli.Context, error) {}, // run reports errors
		Commands: append(append([]*cli.Command{
			checkCommand(),
			renderCommand(),
		}, kernelCommands()...),
			knockCommand(),
			importCommand(),
		),
	}
}

// netnsFlag lets every kernel command work inside a named network
// namespace (tests, the demo, containers) instead of the caller's own.
var netnsFlag = &cli.StringFlag{
	Name:  "netns",
	Usage: "work in this network namespace (a name under /run/netns or a path) instead of the current one",
}

var jsonFlag = &cli.BoolFlag{Name: "json", Usage: "print the result as JSON for automation"}
