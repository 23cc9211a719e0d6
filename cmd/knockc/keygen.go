package main

import (
	"fmt"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/internal/token"
	"github.com/urfave/cli/v2"
)

func keygenCommand() *cli.Command {
	return &cli.Command{
		Name:      "keygen",
		Usage:     "make the key file of one person or device of a token door (mode 0600), and say what to give the client",
		ArgsUsage: "DOOR KEY --spec FILE",
		Description: `Writes a new random key for key KEY of token door DOOR at the path the
spec names for it in [door.DOOR.token.keys] (or --out), refusing to
overwrite a file. The same file, copied to the client with mode 0600, is
what knockc knock --key reads there. Run knockc apply afterwards to
install the key's tokens.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "spec", Usage: "the knock spec that names the door and key", Required: true, TakesFile: true},
			&cli.StringFlag{Name: "out", Usage: "write the key here instead of the spec's path for it", TakesFile: true},
		},
		Action: func(c *cli.Context) error {
			args, err := interspersed(c)
			if err != nil {
				return cli.Exit(fmt.Sprintf("keygen: %v", err), 1)
			}
			if len(args) != 2 {
				return cli.Exit("keygen takes DOOR KEY: knockc keygen --spec knock.toml ssh alice", 1)
			}
			spec, err := compiler.Load(c.String("spec"))
			if err != nil {
				return specError(c.App.ErrWriter, err)
			}
			door, name := normaliseDoor(args[0]), args[1]
			var d *compiler.Door
			for _, x := range spec.Doors {
				if x.Name == door {
					d = x
				}
			}
			if d == nil || d.Token == nil {
				return cli.Exit(fmt.Sprintf("keygen: the spec has no token door %q (add a [door.%s.token] section)", args[0], door), 1)
			}
			path := c.String("out")
			for _, k := range d.Token.Keys {
				if k.Name == name && path == "" {
					path = k.Path
				}
			}
			if path == "" {
				return cli.Exit(fmt.Sprintf("keygen: door %q names no key %q: add %s = \"FILE\" to [door.%s.token.keys] (or give --out)", door, name, name, door), 1)
			}
			secret, err := token.NewSecret()
			if err != nil {
				return fail(err)
			}
			k := &token.Key{Door: door, Name: name, Secret: secret, Port: d.Token.Port, Slot: d.Token.Slot, PerSlot: d.Token.PerSlot, Skew: d.Token.Skew}
			if _, err := token.ParseKey(k.Format()); err != nil {
				return cli.Exit(fmt.Sprintf("keygen: %v", err), 1)
			}
			if err := token.WriteKey(path, k); err != nil {
				return fail(err)
			}
			w := c.App.Writer
			fmt.Fprintf(w, "Wrote %s (mode 0600): key %q of door %q.\n", path, name, door)
			fmt.Fprintf(w, "Give the client a copy of this very file, kept at mode 0600 (it is secret), then there:\n")
			fmt.Fprintf(w, "  knockc knock --key %s-%s.key HOST %s --then-connect %d\n", door, name, door, firstTCP(d))
			fmt.Fprintf(w, "  ssh: ProxyCommand knockc knock --key ~/.config/knockc/%s-%s.key --pipe %%p %%h\n", door, name)
			fmt.Fprintf(w, "  stock tools: knockc token --key FILE | xxd -r -p | nc -u -w1 HOST %d\n", d.Token.Port)
			fmt.Fprintf(w, "Run knockc apply %s to install its tokens.\n", c.String("spec"))
			return nil
		},
	}
}

// firstTCP returns the door's first protected TCP port, or 22.
func firstTCP(d *compiler.Door) uint16 {
	for _, p := range d.Protect {
		if p.Proto.String() == "tcp" {
			return p.Port
		}
	}
	return 22
}
