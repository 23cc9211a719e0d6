package nftkernel

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
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

	// mu serialises batches: google/nftables buffers a batch's messages in
	// the connection, so two goroutines building batches at once (doors of
	// one monitor) would mix them.
	mu sync.Mutex

	// ctl is the control socket (ctl.go), dialled on first use.
	ctl   *netlink.Conn
	ctlMu sync.Mutex
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
		f, err := openNetNS(netns)
		if err != nil {
			return nil, err
		}
		c.ns, c.path = f, f.Name()
		opts = append(opts, nftables.WithNetNSFd(int(f.Fd())))
	}
	opts = append(opts, nftables.WithSockOptions(forceBuffers, extendedAcks))
	c.opts = opts
	// One socket for the connection's life: a monitor makes a batch per
	// grant, and a fresh socket per request would cost more than the batch.
	nft, err := nftables.New(append(opts, nftables.AsLasting())...)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("connect to nf_tables: %w", err)
	}
	c.nft = nft
	return c, nil
}

// Close releases the connection and the namespace handle.
func (c *Conn) Close() error {
	c.closeControl()
	if c.nft != nil {
		c.nft.CloseLasting()
	}
	if c.ns != nil {
		err := c.ns.Close()
		c.ns = nil
		return err
	}
	return nil
}

// openNetNS opens a network namespace given as a path or as a name under
// /run/netns; the caller closes it.
func openNetNS(netns string) (*os.File, error) {
	path := netns
	if !filepath.IsAbs(path) {
		path = filepath.Join("/run/netns", netns)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open network namespace %q: %w", netns, err)
	}
	return f, nil
}

// batchBuffer is the send and receive buffer of every nf_tables socket: a
// batch is one sendmsg (EMSGSIZE past the send buffer) and every message in
// it is acked (ENOBUFS past the receive buffer; the default holds the acks
// of fewer than four doors). nft raises its buffers the same way.
const batchBuffer = 64 << 20

// forceBuffers raises both buffers past net.core.{w,r}mem_max, which needs
// CAP_NET_ADMIN (as every nf_tables change does anyway).
func forceBuffers(nl *netlink.Conn) error {
	rc, err := nl.SyscallConn()
	if err != nil {
		return fmt.Errorf("set socket buffers: %w", err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = errors.Join(
			unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, batchBuffer),
			unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, batchBuffer))
	}); err != nil {
		return fmt.Errorf("set socket buffers: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("set socket buffers: %w", serr)
	}
	return nil
}

// isNotFound reports whether err is the kernel's "no such table/object".
func isNotFound(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, os.ErrNotExist)
}
