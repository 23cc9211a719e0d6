package main

import (
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/knockc/knockc/internal/knock"
	"github.com/knockc/knockc/internal/token"
	"github.com/urfave/cli/v2"
)

// keyFlags are the flags that send a token instead of a sequence.
var (
	keyFlag   = &cli.StringFlag{Name: "key", Usage: "send a one-time token made with this key file (knockc keygen) instead of a knock sequence; the file must be mode 0600", TakesFile: true}
	stateFlag = &cli.StringFlag{Name: "state", Usage: "with --key: the file that records which token comes next (default: the key file's path with .state appended)", TakesFile: true}
)

// takeToken reads the key file of --key and takes the next token from its
// state file.
func takeToken(c *cli.Context) (*token.Key, token.Token, error) {
	path := c.String("key")
	k, err := token.ReadKey(path)
	if err != nil {
		return nil, token.Token{}, cli.Exit(fmt.Sprintf("%s: %v", c.Command.Name, err), 1)
	}
	state := c.String("state")
	if state == "" {
		state = path + ".state"
	}
	tok, _, err := token.Take(state, k, time.Now())
	if err != nil {
		return nil, token.Token{}, cli.Exit(fmt.Sprintf("%s: %v", c.Command.Name, err), 1)
	}
	return k, tok, nil
}

// runTokenKnock sends a token to HOST [DOOR] and then, like a sequence
// knock, connects or relays as --then-connect or --pipe ask.
func runTokenKnock(c *cli.Context, args []string, network string, port, pipe uint) error {
	if len(args) < 1 || len(args) > 2 {
		return cli.Exit("knock --key FILE takes HOST [DOOR]", 1)
	}
	if c.String("spec") != "" || c.Bool("close") {
		return cli.Exit("knock: --key sends a token; --spec and --close are for sequences", 1)
	}
	k, err := token.ReadKey(c.String("key"))
	if err != nil {
		return cli.Exit(fmt.Sprintf("knock: %v", err), 1)
	}
	if len(args) == 2 && normaliseDoor(args[1]) != k.Door {
		return cli.Exit(fmt.Sprintf("knock: key file %q is for door %q, not %q", c.String("key"), k.Door, args[1]), 1)
	}
	opts := knock.Options{Network: network}
	addr, err := knock.Resolve(c.Context, args[0], opts)
	if err != nil {
		return cli.Exit(fmt.Sprintf("knock: %v", err), 1)
	}
	if pipe == 0 && port == 0 {
		_, err := sendToken(c, k, addr)
		return err
	}
	to := uint16(port + pipe) // one of them is 0
	conn, took, err := dialAfterToken(c, k, addr, to)
	if err != nil {
		return cli.Exit(fmt.Sprintf("door did not open: %v", err), 1)
	}
	if pipe != 0 {
		if err := knock.Pipe(c.Context, conn, c.App.Reader, c.App.Writer); err != nil {
			return cli.Exit(err.Error(), 1)
		}
		return nil
	}
	conn.Close()
	fmt.Fprintf(c.App.Writer, "door open after %s\n", roundTook(took))
	return nil
}

// sendToken takes the next token and sends it to the key's port on addr.
// The state file moves on before the token leaves: a token is never sent
// twice, even when sending fails.
func sendToken(c *cli.Context, k *token.Key, addr netip.Addr) (token.Token, error) {
	_, tok, err := takeToken(c)
	if err != nil {
		return tok, err
	}
	if err := knock.SendToken(addr, k.Port, tok[:]); err != nil {
		return tok, cli.Exit(fmt.Sprintf("knock: %v", err), 1)
	}
	if c.Bool("verbose") {
		fmt.Fprintf(c.App.ErrWriter, "knockc: sent a token of key %q to %s port %d/udp\n", k.Name, addr, k.Port)
	}
	return tok, nil
}

// Retries of a token knock that waits for the door.
const (
	tokenRetryAfter = time.Second // a token opens in the packet's path: a door still shut is one the token did not open
	tokenRetries    = 2
)

// dialAfterToken sends a token and connects to port; while the door stays
// shut for tokenRetryAfter it sends the next token, tokenRetries times at
// most, all within --timeout. So a token found spent (the state file lost
// twice in a minute, or a copy someone on the path sent first) costs one
// attempt, and the client recovers by itself.
func dialAfterToken(c *cli.Context, k *token.Key, addr netip.Addr, port uint16) (net.Conn, time.Duration, error) {
	start := time.Now()
	deadline := start.Add(c.Duration("timeout"))
	for attempt := 0; ; attempt++ {
		if _, err := sendToken(c, k, addr); err != nil {
			return nil, 0, err
		}
		wait := time.Until(deadline)
		if attempt < tokenRetries {
			wait = min(wait, tokenRetryAfter)
		}
		conn, _, err := knock.DialOpen(c.Context, addr, port, knock.DefaultEvery, wait)
		if err == nil {
			return conn, time.Since(start), nil
		}
		if attempt >= tokenRetries || !time.Now().Before(deadline) || c.Context.Err() != nil {
			return nil, 0, err
		}
		if c.Bool("verbose") {
			fmt.Fprintf(c.App.ErrWriter, "knockc: port %d still shut after %s: sending the next token\n", port, tokenRetryAfter)
		}
	}
}

// normaliseDoor reads a door name as the spec does: lower case, - as _.
func normaliseDoor(s string) string {
	b := []byte(s)
	for i, ch := range b {
		switch {
		case ch >= 'A' && ch <= 'Z':
			b[i] = ch + 'a' - 'A'
		case ch == '-':
			b[i] = '_'
		}
	}
	return string(b)
}

func tokenCommand() *cli.Command {
	return &cli.Command{
		Name:  "token",
		Usage: "print the next one-time token of a key file, for sending with stock tools",
		Description: `Takes the next token (as knock --key would) and prints it in hex with the
port to send it to. Send it as the first 16 bytes of one UDP datagram:

  knockc token --key ssh-alice.key | xxd -r -p | nc -u -w1 HOST 62201

--raw writes the 16 bytes themselves. --port prints only the port.`,
		Flags: []cli.Flag{keyFlag, stateFlag,
			&cli.BoolFlag{Name: "raw", Usage: "write the 16 raw bytes instead of hex"},
		},
		Action: func(c *cli.Context) error {
			if c.String("key") == "" {
				return cli.Exit("token needs --key FILE", 1)
			}
			k, tok, err := takeToken(c)
			if err != nil {
				return err
			}
			if c.Bool("raw") {
				_, err := c.App.Writer.Write(tok[:])
				return err
			}
			fmt.Fprintln(c.App.Writer, hex.EncodeToString(tok[:]))
			fmt.Fprintf(c.App.ErrWriter, "knockc: send it to port %d/udp of the host (door %q, key %q)\n", k.Port, k.Door, k.Name)
			return nil
		},
	}
}
