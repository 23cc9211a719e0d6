package nftkernel

import (
	"fmt"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// control runs fn on the connection's control socket: a lasting nfnetlink
// socket of knockc's own, beside google/nftables' one, for what that
// library cannot send (the ruleset generation, batches that carry it). It
// is dialled once, because opening a socket in another network namespace
// costs a fresh OS thread each time, and a restore must not wait for that.
// Callers take turns. After a failure the socket is closed and dialled
// again next time, so no stray answer of a failed exchange is read later.
func (c *Conn) control(fn func(nl *netlink.Conn) error) error {
	c.ctlMu.Lock()
	defer c.ctlMu.Unlock()
	if c.ctl == nil {
		cfg := &netlink.Config{}
		if c.ns != nil {
			cfg.NetNS = int(c.ns.Fd())
		}
		nl, err := netlink.Dial(unix.NETLINK_NETFILTER, cfg)
		if err != nil {
			return fmt.Errorf("connect to nf_tables: %w", err)
		}
		if err := forceBuffers(nl); err != nil {
			nl.Close()
			return err
		}
		if err := extendedAcks(nl); err != nil {
			nl.Close()
			return err
		}
		c.ctl = nl
	}
	// Each exchange gets its own bound: a deadline is a point in time, so
	// one left by an earlier exchange would fail every later one on this
	// lasting socket once it passed (a monitor's generation read a minute
	// after a top-up), and none at all would let a lost answer hang.
	if err := c.ctl.SetReadDeadline(time.Now().Add(ackWait)); err != nil {
		c.ctl.Close()
		c.ctl = nil
		return fmt.Errorf("connect to nf_tables: %w", err)
	}
	err := fn(c.ctl)
	if err != nil {
		c.ctl.Close()
		c.ctl = nil
	}
	return err
}

// closeControl closes the control socket, if open.
func (c *Conn) closeControl() {
	c.ctlMu.Lock()
	defer c.ctlMu.Unlock()
	if c.ctl != nil {
		c.ctl.Close()
		c.ctl = nil
	}
}
