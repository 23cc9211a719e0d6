//go:build linux

package faults

import (
	"fmt"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/knockc/knockc/internal/testenv/netns"
)

// row is one fault of the matrix.
type row struct {
	name string
	opts specOpts // spec A, which the monitor applies at start
	// settle bounds how long the state may take to settle after the fault.
	settle time.Duration
	// watch: observe for the whole of settle, even once the end state is
	// right (a later actor may still change it).
	watch bool
	// repaired: knockc on main repairs this fault, so a wrong end state
	// fails the test. Set it when the repair lands (docs/faults.md).
	repaired bool
	// noHostFirewall: the fault removes the host's own firewall too, so a
	// setup that relies on it (grant_mark) cannot stay closed.
	noHostFirewall bool
	fault          func(r *run)
}

// rows are the faults, in the order the matrix prints them.
var rows = []row{
	{
		name: "nft flush ruleset", settle: 6 * time.Second, repaired: true, noHostFirewall: true,
		fault: func(r *run) { r.server.Run(r.t, "nft", "flush", "ruleset") },
	},
	{
		name: "nft flush table inet knockc", settle: 6 * time.Second, repaired: true,
		fault: func(r *run) { r.server.Run(r.t, "nft", "flush", "table", "inet", "knockc") },
	},
	{
		// /etc/nftables.conf as Debian ships it begins with flush ruleset;
		// nftables.service start, restart and reload run nft -f on it.
		name: "nftables.conf reload (nft -f)", settle: 6 * time.Second, repaired: true,
		fault: func(r *run) { r.nftFile("#!/usr/sbin/nft -f\nflush ruleset\n\n" + r.hostFirewall()) },
	},
	{
		// Config management applied a newer spec than the monitor was
		// started with; then the ruleset is flushed. What comes back must
		// be the spec last applied, not the monitor's.
		name: "apply B, then nft flush ruleset", settle: 6 * time.Second, repaired: true, noHostFirewall: true,
		fault: func(r *run) {
			spec := r.spec("b", specOpts{web: true})
			r.labels[spec] = "B"
			r.want = []string{spec}
			if code, out := r.knockc("apply", "--netns", r.server.Path(), spec); code != 0 {
				r.t.Errorf("knockc apply of spec B = %d:\n%s", code, out)
			}
			r.server.Run(r.t, "nft", "flush", "ruleset")
		},
	},
	{
		// The same through systemd: a stand-in for Debian's nftables.service
		// and the shipped monitor unit, in a booted systemd.
		name: "systemctl reload nftables", opts: specOpts{systemd: true}, settle: 6 * time.Second, repaired: true,
		fault: func(r *run) { r.systemctl("reload", "nftables.service") },
	},
	{
		name: "monitor SIGKILL (holding SYNs)", opts: specOpts{slowStart: true}, settle: 2 * time.Second, repaired: true,
		fault: monitorKill,
	},
	{
		name: "monitor restart", settle: 2 * time.Second, repaired: true,
		fault: func(r *run) {
			r.mon.stop(syscall.SIGTERM)
			r.startMonitor(r.specA)
		},
	},
	{
		name: `interfaces = ["eth9"] (absent)`, settle: 2 * time.Second, watch: true, repaired: true,
		fault: func(r *run) {
			spec := r.spec("eth9", specOpts{interfaces: []string{"eth9"}})
			r.labels[spec] = "eth9"
			r.want = []string{spec}
			code, out := r.knockc("apply", "--netns", r.server.Path(), spec)
			if code != 0 {
				r.t.Errorf("knockc apply of the eth9 spec = %d:\n%s", code, out)
			}
			if w := lineWith(strings.ToLower(out), "warn"); strings.Contains(w, "warn") {
				r.note = "apply said: " + w
			} else {
				r.note = "apply gave no warning about eth9"
			}
		},
	},
	{
		name: "two knockc apply at once", settle: 3 * time.Second, repaired: true,
		fault: twoApplies,
	},
	{
		name: "200 re-applies, knocking", settle: time.Second, repaired: true,
		fault: reapplies,
	},
	{
		name: "knockc down", settle: 3 * time.Second, watch: true,
		fault: func(r *run) {
			r.want = []string{""}
			if code, out := r.knockc("down", "--netns", r.server.Path()); code != 0 {
				r.t.Errorf("knockc down = %d:\n%s", code, out)
			}
		},
	},
}

// monitorKill kills the monitor with SIGKILL and starts it again after
// the shipped unit's RestartSec (1 s). In a managed setup the knocker has
// just knocked and its SYN is held in the queue while the (slow) service
// starts: the kill drops it, and the knocker must get in all the same,
// through its own SYN retransmission, without knocking again.
func monitorKill(r *run) {
	if !r.setup.managed {
		r.mon.stop(syscall.SIGKILL)
		time.Sleep(time.Second)
		r.startMonitor(r.specA)
		return
	}
	c := r.knocker
	r.knock(c, 7000, 8000, 9000)
	got := make(chan error, 1)
	go func() {
		conn, err := c.Dial(c.ServerV4, protected, 10*time.Second)
		if err == nil {
			conn.Close()
		}
		got <- err
	}()
	time.Sleep(300 * time.Millisecond) // the SYN waits while the service takes 1 s to start
	out, _ := r.server.Exec("nft", "list", "table", "inet", "knockc")
	if !strings.Contains(out, c.V4.String()) {
		r.note = "knocker not seen pending before the kill"
	}
	r.mon.stop(syscall.SIGKILL)
	time.Sleep(time.Second)
	r.startMonitor(r.specA)
	if err := <-got; err != nil {
		r.grants = "1"
		r.note = fmt.Sprintf("held knocker's connect: %v", err)
	} else {
		r.grants = "0"
	}
}

// twoApplies deletes knockc's table (as after a boot or down) and starts
// two applies of spec B at the same moment, as config management and an
// operator might.
func twoApplies(r *run) {
	specB := r.spec("b", specOpts{web: true})
	r.labels[specB] = "B"
	r.want = []string{specB}
	r.server.Run(r.t, "nft", "delete", "table", "inet", "knockc")
	var wg sync.WaitGroup
	codes := make([]int, 2)
	outs := make([]string, 2)
	start := make(chan struct{})
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			codes[i], outs[i] = r.knockc("apply", "--netns", r.server.Path(), specB)
		}()
	}
	close(start)
	wg.Wait()
	r.note = fmt.Sprintf("exit codes %d and %d", codes[0], codes[1])
}

// reapplies applies spec B and spec A in turn, 200 times, while a second
// knocker knocks, connects and closes its grant without pause: a cycle
// whose connect fails counts as a lost grant.
func reapplies(r *run) {
	specB := r.spec("b", specOpts{web: true})
	r.labels[specB] = "B"
	k := r.addClient()
	stop := make(chan struct{})
	var cycles, lost int
	done := make(chan struct{})
	timeout := 2 * time.Second
	if r.setup.managed {
		timeout = 5 * time.Second
	}
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := knock(k, 7000, 8000, 9000); err != nil || !connects(k, timeout) {
				lost++
			}
			cycles++
			knock(k, 9000, 8000, 7000)
			time.Sleep(5 * time.Millisecond)
		}
	}()
	failed := 0
	for i := range 200 {
		spec := specB
		if i%2 == 1 {
			spec = r.specA
		}
		if code, out := r.knockc("apply", "--netns", r.server.Path(), spec); code != 0 {
			failed++
			if failed == 1 {
				r.note = "apply failed: " + lineWith(out, "knockc:")
			}
		}
	}
	close(stop)
	<-done
	r.want = []string{r.specA} // the 200th apply
	r.grants = fmt.Sprintf("%d of %d knocks", lost, cycles)
	if r.granted {
		c := r.knocker
		if c.Connect(c.ServerV4, protected, 500*time.Millisecond) != netns.Open {
			r.grants += ", the session holder's grant"
		}
	}
	if failed > 0 {
		r.note += fmt.Sprintf(" (%d of 200 applies failed)", failed)
	}
}

// connects reports whether c completes a handshake with the protected
// port within three tries 20 ms apart: the knocks leave c's namespace from
// whichever threads sent them, so the last knock may reach the server a
// moment after the first connect SYN; a grant that is really missing stays
// missing.
func connects(c *netns.Client, timeout time.Duration) bool {
	for try := 0; try < 3; try++ {
		if try > 0 {
			time.Sleep(20 * time.Millisecond)
		}
		switch c.Connect(c.ServerV4, protected, timeout) {
		case netns.Open:
			return true
		case netns.Timeout:
			return false
		}
	}
	return false
}
