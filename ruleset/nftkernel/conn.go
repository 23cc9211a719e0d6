package nftkernel

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// Conn talks to nf_tables in one network namespace. Every change it makes
// goes out as a single netlink batch, which the kernel applies whole or not
// at all.
type Conn struct {
	nft  *nftables.Conn
	ns   *os.File // the namespace's file, nil for the caller's own namespace
	path string
	opts []nftables.ConnOption

	queueMode QueueMode // found by QueueMode, 0 until then
}

// connOpts returns the options for one more connection to the same namespace.
func (c *Conn) connOpts() []nftables.ConnOption { return c.opts }

// Open connects to nf_tables in the network namespace at netns: a path
// such as /proc/PID/ns/net or /run/netns/NAME, a bare name under
// /run/netns, or "" for the caller's namespace. It fails when the namespace
// cannot be opened or the caller lacks CAP_NET_ADMIN.
func Open(netns string) (*Conn, error) {
	c := &Conn{}
	var opts []nftables.ConnOption
	if netns != "" {
		path := netns
		if !filepath.IsAbs(path) {
			path = filepath.Join("/run/netns", netns)
		}
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("open network namespace %q: %w", netns, err)
		}
		c.ns, c.path = f, path
		opts = append(opts, nftables.WithNetNSFd(int(f.Fd())))
	}
	c.opts = opts
	nft, err := nftables.New(opts...)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("connect to nf_tables: %w", err)
	}
	c.nft = nft
	return c, nil
}

// Close releases the connection and the namespace handle.
func (c *Conn) Close() error {
	if c.ns != nil {
		err := c.ns.Close()
		c.ns = nil
		return err
	}
	return nil
}

// isNotFound reports whether err is the kernel's "no such table/object".
func isNotFound(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, os.ErrNotExist)
}
