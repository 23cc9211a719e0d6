package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/knockc/knockc/internal/view"
	"github.com/urfave/cli/v2"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// run executes the CLI with args and returns the process exit code.
// Results go to stdout, diagnostics to stderr; a spec named "-" is read
// from stdin. With --json, a failure is also one JSON document on stdout
// (view.Error), so automation always has something to parse.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runContext(context.Background(), args, stdin, stdout, stderr)
}

// runContext is run with a context that long-running commands (watch,
// trace, monitor) end on.
func runContext(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	app := newApp(stdin, stdout, stderr)
	arranged, err := arrange(app, args)
	if err == nil {
		args = arranged
		err = app.RunContext(ctx, args)
	}
	if err == nil {
		return 0
	}
	code, msg := 1, err.Error()
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		code, msg = ec.ExitCode(), ec.Error()
	}
	if msg == "" { // an exit code without a message: --detailed-exitcode
		return code
	}
	kind := view.KindOther
	var ce *cmdError
	switch {
	case view.IsSpecError(err):
		kind = view.KindSpec
	case errors.As(err, &ce) && ce.kind != "":
		kind = ce.kind
		if kind == view.KindPermission {
			msg = permissionMessage(commandName(app, args))
		}
	}
	fmt.Fprintln(stderr, "knockc:", msg)
	if wantsJSON(args) {
		doc := view.NewError(msg, kind, err)
		switch commandName(app, args) {
		case "watch", "trace": // NDJSON streams: the error is one more line
			view.WriteJSONLine(stdout, doc)
		default:
			view.WriteJSON(stdout, doc)
		}
	}
	return code
}

// newApp wires the commands; each one only turns flags into library calls.
func newApp(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:    "knockc",
		Usage:   "port knocking done by the kernel, on nftables",
		Version: version,
		Description: `knockc hides a host's services behind port knocking. A knock spec (TOML)
names doors: a sequence of knock ports that opens protected ports to the
knocker alone. knockc compiles the spec into one nftables table whose sets
and rules run the whole knock in the kernel, applies it in one atomic
batch, and shows plans and live state. The monitor starts and stops
managed services and grants knockers of doors that manage one.

Commands that take a spec FILE read it from stdin when FILE is "-". Flags
may come before or after the arguments. Commands that talk to the kernel
(plan, apply, status, watch, trace, down, monitor, demo) need root or
CAP_NET_ADMIN.

Exit status: 0 on success; 1 on error; 2 from plan or apply
--detailed-exitcode when there are (or were) changes; 3 from import
--strict when a line was not translated.

The JSON documents of check, plan, apply, status, watch, trace and errors
(--json) are described in docs/operations.md of knockc's source.`,
		Reader:               stdin,
		Writer:               stdout,
		ErrWriter:            stderr,
		EnableBashCompletion: true,
		ExitErrHandler:       func(*cli.Context, error) {}, // run reports errors
		Commands: append(append([]*cli.Command{
			checkCommand(),
			renderCommand(),
		}, kernelCommands()...),
			knockCommand(),
			importCommand(),
			keygenCommand(),
			tokenCommand(),
		),
	}
	for _, c := range app.Commands {
		c.HideHelpCommand = true // no subcommands: "knockc help CMD" is the way
	}
	return app
}

// netnsFlag lets every kernel command work inside a named network
// namespace (tests, the demo, containers) instead of the caller's own.
var netnsFlag = &cli.StringFlag{
	Name:  "netns",
	Usage: "work in this network namespace (a name under /run/netns or a path) instead of the current one",
}

var jsonFlag = &cli.BoolFlag{Name: "json", Usage: "print the result (or the error) as one JSON document for automation; see docs/operations.md"}

// arrange checks the command name and moves the flags written after a
// command's arguments before them, since urfave/cli v2 stops reading flags
// at the first argument: `knockc plan FILE --json` means `knockc plan
// --json FILE`. A "--" ends the flags. An unknown command is an error that
// suggests the closest one.
func arrange(app *cli.App, args []string) ([]string, error) {
	i := 1
	for i < len(args) && strings.HasPrefix(args[i], "-") && args[i] != "-" {
		i++ // global flags: --help, --version
	}
	if i >= len(args) {
		return args, nil
	}
	name := args[i]
	if name == "help" || name == "h" {
		return args, nil
	}
	cmd := app.Command(name)
	if cmd == nil {
		msg := fmt.Sprintf("unknown command %q", name)
		if s := cli.SuggestCommand(app.Commands, name); s != "" {
			msg += ". " + s // "Did you mean "plan"?"
		}
		return nil, cli.Exit(msg+" (knockc help lists the commands)", 1)
	}
	if args[len(args)-1] == "--generate-bash-completion" {
		return args, nil // urfave/cli's own completion protocol: words as typed
	}
	takesValue := map[string]bool{}
	for _, f := range cmd.Flags {
		v, ok := f.(interface{ TakesValue() bool })
		for _, n := range f.Names() {
			takesValue[n] = ok && v.TakesValue()
		}
	}
	var flags, pos []string
	rest := args[i+1:]
	for j := 0; j < len(rest); j++ {
		a := rest[j]
		if a == "--" {
			pos = append(pos, rest[j:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		n, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if n == "help" || n == "h" {
			return append(append([]string{}, args[:i+1]...), a), nil // help for the command, whatever else is there
		}
		takes, known := takesValue[n]
		switch {
		case !known:
			return nil, cli.Exit(fmt.Sprintf("%s: flag provided but not defined: %s (knockc help %s lists its flags)", cmd.Name, a, cmd.Name), 1)
		case takes && !hasValue:
			if j+1 == len(rest) {
				return nil, cli.Exit(fmt.Sprintf("%s: flag needs an argument: %s", cmd.Name, a), 1)
			}
			j++
			flags = append(flags, rest[j])
		}
	}
	out := append([]string{}, args[:i+1]...)
	out = append(out, flags...)
	return append(out, pos...), nil
}

// commandName returns the command args run, or "knockc".
func commandName(app *cli.App, args []string) string {
	for _, a := range args[1:] {
		if app.Command(a) != nil {
			return a
		}
	}
	return "knockc"
}

// wantsJSON reports whether the command line asks for JSON output.
func wantsJSON(args []string) bool {
	for _, a := range args[1:] {
		switch a {
		case "--":
			return false
		case "--json", "-json", "--json=true", "-json=true":
			return true
		}
	}
	return false
}

// permissionMessage says once, in words, what a kernel command needs.
func permissionMessage(cmd string) string {
	return fmt.Sprintf("%s needs root or the CAP_NET_ADMIN capability (the kernel refused: operation not permitted); run it with sudo", cmd)
}

// failOpen is fail for an error opening the kernel connection: refused
// there, the caller lacks CAP_NET_ADMIN (nf_tables, NFLOG and NFQUEUE need
// it). Later refusals (a table another process owns) are the kernel's
// answer to a batch and stay plain errors.
func failOpen(err error) error {
	e := &cmdError{msg: err.Error(), code: 1, err: err}
	if errors.Is(err, os.ErrPermission) {
		e.kind = view.KindPermission
	}
	return e
}

// fail turns a library error into the command's failure (exit 1), keeping
// it reachable for errors.Is and errors.As.
func fail(err error) error {
	return &cmdError{msg: err.Error(), code: 1, err: err}
}

// cmdError is a failure with its message, exit code and cause; kind, when
// set, is the view.Kind… automation reads in the JSON error.
type cmdError struct {
	msg  string
	code int
	err  error
	kind string
}

func (e *cmdError) Error() string { return e.msg }
func (e *cmdError) ExitCode() int { return e.code }
func (e *cmdError) Unwrap() error { return e.err }
