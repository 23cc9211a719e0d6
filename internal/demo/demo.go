// Package demo is `knockc demo`: the whole knock flow, start to finish, in
// throwaway network namespaces, so a newcomer can watch knockc work on any
// Linux machine without touching its firewall. It applies the classic SSH
// door, shows that a scan cannot tell the protected port from any closed
// port, knocks, shows the port open for the knocker only, closes it, and
// removes everything, also on Ctrl-C or failure.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/examples"
	"github.com/knockc/knockc/internal/doorstate"
	"github.com/knockc/knockc/internal/knock"
	"github.com/knockc/knockc/internal/sandbox"
	"github.com/knockc/knockc/ruleset"
	"github.com/knockc/knockc/ruleset/nftkernel"
)

// ErrNeedRoot is returned when the demo runs without root.
var ErrNeedRoot = errors.New("knockc demo needs root: it creates throwaway network namespaces and an nftables table inside them (never in this host's own ruleset); run: sudo knockc demo")

// Run plays the demo, writing what happens to out. Everything it creates is
// removed before it returns, whether it succeeds, fails or ctx is cancelled.
func Run(ctx context.Context, out io.Writer) (err error) {
	if os.Geteuid() != 0 {
		return ErrNeedRoot
	}
	t0 := time.Now()
	d := &demo{ctx: ctx, out: out}
	defer func() {
		if rerr := d.teardown(); rerr != nil {
			err = errors.Join(err, rerr)
		}
		if err == nil {
			d.say("Removed the namespaces and everything in them. The demo took %s.", time.Since(t0).Round(time.Millisecond))
		}
	}()
	if err := d.play(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("demo interrupted: %w", err)
		}
		return err
	}
	return nil
}

// demo holds the namespaces of one run.
type demo struct {
	ctx      context.Context
	out      io.Writer
	created  []*sandbox.NS
	server   *sandbox.NS
	knocker  *sandbox.Client
	stranger *sandbox.Client
	conn     *nftkernel.Conn
	ln       net.Listener
	step     int
}

func (d *demo) say(format string, args ...any) { fmt.Fprintf(d.out, format+"\n", args...) }

// next prints the heading of the next step, or stops when ctx ended.
func (d *demo) next(format string, args ...any) error {
	if err := d.ctx.Err(); err != nil {
		return err
	}
	d.step++
	d.say("\n%d. "+format, append([]any{d.step}, args...)...)
	return nil
}

func (d *demo) play() error {
	d.say("knockc demo: port knocking done by the kernel, in throwaway network namespaces.")
	d.say("Nothing on this host changes: its interfaces and its ruleset are never touched.")

	if err := d.next("Two clients and a server, joined by veth pairs."); err != nil {
		return err
	}
	if err := d.setup(); err != nil {
		return err
	}
	d.say("   server   %s   %s", d.knocker.ServerV4, d.knocker.ServerV6)
	d.say("   knocker  %s   %s", d.knocker.V4, d.knocker.V6)
	d.say("   stranger %s", d.stranger.V4)
	d.say("   A TCP listener stands in for sshd on the server's port 22.")

	spec, table, err := d.apply()
	if err != nil {
		return err
	}
	door := spec.Doors[0]

	if err := d.next("A port scan from the knocker, before any knock:"); err != nil {
		return err
	}
	// Not 7000, 8000, 9000 in that order: that would be the knock itself.
	answers := map[sandbox.Outcome]bool{}
	for _, p := range []uint16{9000, 22, 7777, 8000, 7000} {
		role := map[uint16]string{22: "protected (sshd listens here)", 7777: "unused", 7000: "knock port", 8000: "knock port", 9000: "knock port"}[p]
		got := d.knocker.Connect(d.knocker.ServerV4, p, 400*time.Millisecond)
		answers[got] = true
		d.say("   %5d/tcp  %-8s %s", p, got, role)
	}
	if len(answers) != 1 || !answers[sandbox.Refused] {
		return errors.New("demo: the scan told ports apart; every port should have answered with a reset")
	}
	d.say("   Every port answers alike (a TCP reset): the scanner cannot tell the open door from a wall.")

	if err := d.next("The knocker knocks %s.", stepList(door.Sequence)); err != nil {
		return err
	}
	if err := d.knock(door.Sequence); err != nil {
		return err
	}
	d.say("   Each knock is one SYN; the kernel moved the knocker through its step sets and granted it on the last one.")

	if err := d.next("Port 22 after the knock:"); err != nil {
		return err
	}
	t := time.Now()
	got := d.knocker.Connect(d.knocker.ServerV4, 22, 2*time.Second)
	d.say("   from the knocker   %s (handshake in %s)", got, time.Since(t).Round(10*time.Microsecond))
	if got != sandbox.Open {
		return fmt.Errorf("demo: port 22 is %s for the knocker after the knock, want open", got)
	}
	other := d.stranger.Connect(d.stranger.ServerV4, 22, 400*time.Millisecond)
	d.say("   from the stranger  %s", other)
	if other == sandbox.Open {
		return errors.New("demo: port 22 is open for a stranger who did not knock")
	}
	if err := d.status(table); err != nil {
		return err
	}

	if err := d.next("The knocker knocks the close sequence %s.", stepList(door.CloseSequence)); err != nil {
		return err
	}
	if err := d.knock(door.CloseSequence); err != nil {
		return err
	}
	got = d.knocker.Connect(d.knocker.ServerV4, 22, 400*time.Millisecond)
	d.say("   port 22 from the knocker: %s", got)
	if got == sandbox.Open {
		return errors.New("demo: port 22 is still open after the close sequence")
	}
	return d.next("Done. Try it on your own spec: knockc render knock.toml, then knockc plan and knockc apply.")
}

// setup creates the namespaces and links and the stand-in sshd.
func (d *demo) setup() error {
	mk := func(prefix string) (*sandbox.NS, error) {
		n, err := sandbox.Create(prefix)
		if err == nil {
			d.created = append(d.created, n)
		}
		return n, err
	}
	var err error
	if d.server, err = mk("kcdemo"); err != nil {
		return err
	}
	for i, c := range []**sandbox.Client{&d.knocker, &d.stranger} {
		n, err := mk("kcdemo")
		if err != nil {
			return err
		}
		if *c, err = sandbox.Link(d.server, n, i+1); err != nil {
			return err
		}
	}
	return d.server.Do(func() error {
		ln, err := net.Listen("tcp", ":22")
		if err != nil {
			return fmt.Errorf("demo: listen on port 22 in the server: %w", err)
		}
		d.ln = ln
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		return nil
	})
}

// apply compiles the built-in classic door and applies it in the server.
func (d *demo) apply() (*compiler.Spec, *ruleset.Table, error) {
	if err := d.next("knockc apply examples/%s, inside the server:", examples.Default); err != nil {
		return nil, nil, err
	}
	data, err := examples.FS.ReadFile(examples.Default)
	if err != nil {
		return nil, nil, err
	}
	spec, err := compiler.Parse("examples/"+examples.Default, data)
	if err != nil {
		return nil, nil, err
	}
	want := compiler.Compile(spec)
	if d.conn, err = nftkernel.Open(d.server.Path()); err != nil {
		return nil, nil, err
	}
	plan := ruleset.Diff(want, nil)
	if err := d.conn.Apply(want, nil); err != nil {
		return nil, nil, err
	}
	rules := 0
	for _, c := range want.Chains {
		rules += len(c.Rules)
	}
	d.say("   %s Applied in one atomic batch: %d sets, %d chains, %d rules.", plan.Summary(), len(want.Sets), len(want.Chains), rules)
	d.say("   (knockc render shows the ruleset; this demo's door is the classic knockd openSSH/closeSSH.)")
	return spec, want, nil
}

// knock sends steps from the knocker with knockc's own client, as
// `knockc knock` does.
func (d *demo) knock(steps []compiler.Step) error {
	return d.knocker.NS.Do(func() error {
		return knock.KnockAddr(d.ctx, d.knocker.ServerV4, steps, knock.Options{})
	})
}

// status prints what knockc status would show for the door.
func (d *demo) status(t *ruleset.Table) error {
	have, err := d.conn.Read(t.Name)
	if err != nil {
		return err
	}
	for _, ds := range doorstate.Of(have) {
		for _, g := range ds.Grants {
			d.say("   knockc status: door %s granted %s, %s left", ds.Door, g.Addr, g.Left.Round(time.Second))
		}
	}
	return nil
}

// teardown removes everything setup made, in reverse.
func (d *demo) teardown() error {
	if d.ln != nil {
		d.ln.Close()
	}
	if d.conn != nil {
		d.conn.Close()
	}
	var errs []error
	for i := len(d.created) - 1; i >= 0; i-- {
		if err := d.created[i].Remove(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func stepList(steps []compiler.Step) string {
	parts := make([]string, len(steps))
	for i, s := range steps {
		parts[i] = s.String()
	}
	return strings.Join(parts, ", ")
}
