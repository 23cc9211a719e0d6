package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/internal/knock"
	"github.com/urfave/cli/v2"
)

func knockCommand() *cli.Command {
	return &cli.Command{
		Name:      "knock",
		Usage:     "knock on a door: send one TCP SYN or UDP datagram to each port of a sequence, in order (no root needed)",
		ArgsUsage: "HOST STEP...  |  HOST DOOR --spec FILE  |  HOST [DOOR] --key FILE",
		Description: `Each STEP is a port with an optional protocol: 7000/tcp, 7000:udp, or 7000 (tcp).
A TCP knock is a single SYN that never becomes a connection; a UDP knock is one
datagram. HOST is an IP address (IPv6 with or without brackets) or a name; a
name with both IPv4 and IPv6 addresses is knocked over the first one the
resolver returns unless -4 or -6 says otherwise. With --spec, DOOR names a
door of that knock spec and its sequence (--close: its close_sequence) is sent;
a door that accepts only one family is knocked over that family.

Flags may come before or after the arguments. Prints nothing unless asked:
--verbose writes one line per knock to stderr, --then-connect prints
"door open after 23ms" on stdout, or exits 1 when the port stays shut.
--pipe PORT knocks, connects to PORT once the door opens and relays
stdin/stdout over that connection, so one command knocks and carries ssh:

  Host server.example
      ProxyCommand knockc knock --pipe %p %h 7000/tcp 8000/tcp 9000/tcp

With --key, one UDP datagram carries a one-time token of that key file to
its door's token port (docs/tokens.md); the file must be mode 0600, and
FILE.state records which token comes next.

Examples:
  knockc knock server.example 7000 8000 9000
  knockc knock --key ssh-alice.key server.example ssh --then-connect 22
  knockc knock -6 server.example 7000/tcp 8000/udp 9000/tcp
  knockc knock --spec knock.toml server.example ssh --then-connect 22
  knockc knock --spec knock.toml --close server.example ssh`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "spec", Usage: "take the sequence of door DOOR from this knock spec; the arguments are then HOST DOOR", TakesFile: true},
			&cli.BoolFlag{Name: "close", Usage: "with --spec: send the door's close_sequence instead"},
			&cli.DurationFlag{Name: "delay", Value: knock.DefaultDelay, Usage: "pause between two knocks; a few ms keep the knocks in order on networks that reorder packets"},
			&cli.BoolFlag{Name: "ipv4", Aliases: []string{"4"}, Usage: "knock over IPv4 only"},
			&cli.BoolFlag{Name: "ipv6", Aliases: []string{"6"}, Usage: "knock over IPv6 only"},
			&cli.UintFlag{Name: "then-connect", Usage: "after knocking, try TCP connections to this port every 50ms until one succeeds (or --timeout passes: exit 1)", DefaultText: "off"},
			&cli.DurationFlag{Name: "timeout", Value: knock.DefaultTimeout, Usage: "with --then-connect or --pipe: how long to keep trying"},
			&cli.UintFlag{Name: "pipe", Usage: "after knocking, connect to this port (retrying until --timeout) and relay stdin and stdout over the connection: ssh's ProxyCommand", DefaultText: "off"},
			&cli.BoolFlag{Name: "verbose", Usage: "write one line per knock to stderr"},
			keyFlag, stateFlag,
		},
		Action: runKnock,
	}
}

// runKnock turns the knock command's flags into knock.Knock and
// knock.WaitOpen calls.
func runKnock(c *cli.Context) error {
	args, err := interspersed(c)
	if err != nil {
		return cli.Exit(fmt.Sprintf("knock: %v", err), 1)
	}
	network := "ip"
	switch {
	case c.Bool("ipv4") && c.Bool("ipv6"):
		return cli.Exit("knock: -4 and -6 exclude each other", 1)
	case c.Bool("ipv4"):
		network = "ip4"
	case c.Bool("ipv6"):
		network = "ip6"
	}
	port, pipe := c.Uint("then-connect"), c.Uint("pipe")
	switch {
	case port > 65535:
		return cli.Exit(fmt.Sprintf("knock: --then-connect %d: port must be a number from 1 to 65535", port), 1)
	case pipe > 65535:
		return cli.Exit(fmt.Sprintf("knock: --pipe %d: port must be a number from 1 to 65535", pipe), 1)
	case port != 0 && pipe != 0:
		return cli.Exit("knock: --then-connect and --pipe exclude each other", 1)
	}
	if c.String("key") != "" {
		return runTokenKnock(c, args, network, port, pipe)
	}
	steps, err := knockSteps(c, args, &network)
	if err != nil {
		return err
	}
	host := args[0]
	stderr := c.App.ErrWriter
	opts := knock.Options{Delay: c.Duration("delay"), Network: network}
	addr, err := knock.Resolve(c.Context, host, opts)
	if err != nil {
		return cli.Exit(fmt.Sprintf("knock: %v", err), 1)
	}
	if c.Bool("verbose") {
		if a, perr := netip.ParseAddr(strings.Trim(host, "[]")); perr != nil || a.Unmap() != addr {
			fmt.Fprintf(stderr, "knockc: %s is %s\n", host, addr)
		}
		opts.Sent = func(to netip.AddrPort, s knock.Step) {
			fmt.Fprintf(stderr, "knockc: knocked %s/%s\n", to, s.Proto)
		}
	}
	if err := knock.KnockAddr(c.Context, addr, steps, opts); err != nil {
		return cli.Exit(err.Error(), 1)
	}
	if pipe != 0 {
		conn, _, err := knock.DialOpen(c.Context, addr, uint16(pipe), knock.DefaultEvery, c.Duration("timeout"))
		if err != nil {
			return cli.Exit(fmt.Sprintf("door did not open: %v", err), 1)
		}
		if err := knock.Pipe(c.Context, conn, c.App.Reader, c.App.Writer); err != nil {
			return cli.Exit(err.Error(), 1)
		}
		return nil
	}
	if port == 0 {
		return nil
	}
	took, err := knock.WaitOpen(c.Context, addr, uint16(port), knock.DefaultEvery, c.Duration("timeout"))
	if err != nil {
		return cli.Exit(fmt.Sprintf("door did not open: %v", err), 1)
	}
	fmt.Fprintf(c.App.Writer, "door open after %s\n", roundTook(took))
	return nil
}

// knockSteps returns the steps the arguments or the spec name; for a door
// of one family only, it narrows *network to that family unless -4/-6 did.
func knockSteps(c *cli.Context, args []string, network *string) ([]knock.Step, error) {
	path := c.String("spec")
	if path == "" {
		if c.Bool("close") {
			return nil, cli.Exit("knock: --close needs --spec FILE and a DOOR", 1)
		}
		if len(args) < 2 {
			return nil, cli.Exit("knock needs a host and at least one port: knockc knock HOST 7000 8000/udp 9000 (or HOST DOOR --spec FILE)", 1)
		}
		steps, err := knock.ParseSteps(args[1:])
		if err != nil {
			return nil, cli.Exit(fmt.Sprintf("knock: %v", err), 1)
		}
		return steps, nil
	}
	if len(args) != 2 {
		return nil, cli.Exit(fmt.Sprintf("knock --spec takes HOST DOOR, got %d arguments", len(args)), 1)
	}
	spec, err := compiler.Load(path)
	if err != nil {
		return nil, specError(c.App.ErrWriter, err)
	}
	steps, err := knock.DoorSteps(spec, args[1], c.Bool("close"))
	if err != nil {
		return nil, cli.Exit(fmt.Sprintf("knock: %v", err), 1)
	}
	if *network == "ip" {
		*network = knock.DoorNetwork(spec, args[1])
	}
	return steps, nil
}

// roundTook rounds a wait for printing: to the millisecond, or to the
// microsecond below one millisecond.
func roundTook(d time.Duration) time.Duration {
	if d < time.Millisecond {
		return d.Round(time.Microsecond)
	}
	return d.Round(time.Millisecond)
}

// interspersed returns c's positional arguments after applying the
// command's flags written among or after them, which urfave/cli v2 leaves
// in c.Args() (it stops parsing flags at the first argument): so
// `knockc knock HOST ssh --spec FILE` means `knockc knock --spec FILE HOST
// ssh`. A "--" ends the flags. It fails on an unknown flag or a bad value.
func interspersed(c *cli.Context) ([]string, error) {
	set := flag.NewFlagSet(c.Command.Name, flag.ContinueOnError)
	set.SetOutput(io.Discard)
	for _, f := range c.Command.Flags {
		if err := f.Apply(set); err != nil {
			return nil, err
		}
	}
	var pos, flags []string
	args := c.Args().Slice()
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		f := set.Lookup(name)
		if f == nil {
			return nil, fmt.Errorf("flag provided but not defined: %s", a)
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			continue
		}
		if i+1 == len(args) {
			return nil, fmt.Errorf("flag needs an argument: %s", a)
		}
		i++
		flags = append(flags, args[i])
	}
	if len(flags) == 0 {
		return pos, nil
	}
	if err := set.Parse(flags); err != nil {
		return nil, err
	}
	var errs []error
	set.Visit(func(f *flag.Flag) {
		if err := c.Set(f.Name, f.Value.String()); err != nil {
			errs = append(errs, fmt.Errorf("flag %s: %w", f.Name, err))
		}
	})
	return pos, errors.Join(errs...)
}
