package sandbox

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"time"
)

// MaxLinks is how many links one server namespace can have: link n uses
// the subnets 198.18.n.0/24 and fd00:6b6e:n::/64.
const MaxLinks = 255

// readyTimeout bounds the wait for links and addresses to become usable.
const readyTimeout = 5 * time.Second

// Client is one client namespace joined to a server namespace by its own
// veth pair and subnets (see Link).
type Client struct {
	// NS is the client's namespace.
	NS *NS
	// If is the client's veth end, ServerIf the server's end of the link.
	If, ServerIf string
	// V4 and V6 are the client's addresses on the link.
	V4, V6 netip.Addr
	// ServerV4 and ServerV6 are the server's addresses on the link.
	ServerV4, ServerV6 netip.Addr

	server *NS
	net4   netip.Prefix // the link's IPv4 subnet
	net6   netip.Prefix // the link's IPv6 subnet
}

// Link joins client to server as link number n (1 to MaxLinks, unique per
// server) with a veth pair (198.18.n.1 and fd00:6b6e:n::1 on the server
// end, .2 and ::2 on the client end) and waits until both ends are up and
// their addresses usable; it fails when a command fails or the link is not
// ready in time. The caller removes both namespaces.
func Link(server, client *NS, n int) (*Client, error) {
	if n < 1 || n > MaxLinks {
		return nil, fmt.Errorf("link namespace %q: link number %d out of range 1-%d", server.Name, n, MaxLinks)
	}
	c := newClient(client, server, n)
	return c, c.link()
}

func newClient(ns, server *NS, n int) *Client {
	c := &Client{
		NS:       ns,
		If:       fmt.Sprintf("c%s-%d", server.id, n),
		ServerIf: fmt.Sprintf("s%s-%d", server.id, n),
		server:   server,
		net4:     netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, byte(n), 0}), 24),
		net6:     netip.PrefixFrom(netip.AddrFrom16([16]byte{0xfd, 0, 0x6b, 0x6e, 0, byte(n)}), 64),
	}
	c.ServerV4, c.V4 = hostAddr(c.net4, 1), hostAddr(c.net4, 2)
	c.ServerV6, c.V6 = hostAddr(c.net6, 1), hostAddr(c.net6, 2)
	return c
}

// hostAddr returns the address numbered host (below 256) in prefix.
func hostAddr(prefix netip.Prefix, host byte) netip.Addr {
	a := prefix.Masked().Addr().AsSlice()
	a[len(a)-1] = host
	addr, _ := netip.AddrFromSlice(a)
	return addr
}

// link creates the veth pair inside the server namespace with its peer
// placed straight into the client namespace, so that no end ever shows in
// the host's namespace, addresses both ends and waits until they are usable.
func (c *Client) link() error {
	server := []string{
		fmt.Sprintf("link add %s type veth peer name %s netns %s", c.ServerIf, c.If, c.NS.Name),
		fmt.Sprintf("addr add %s dev %s", netip.PrefixFrom(c.ServerV4, c.net4.Bits()), c.ServerIf),
		fmt.Sprintf("addr add %s dev %s nodad", netip.PrefixFrom(c.ServerV6, c.net6.Bits()), c.ServerIf),
		fmt.Sprintf("link set %s up", c.ServerIf),
	}
	if err := ipBatch(c.server, server); err != nil {
		return err
	}
	client := []string{
		fmt.Sprintf("addr add %s dev %s", netip.PrefixFrom(c.V4, c.net4.Bits()), c.If),
		fmt.Sprintf("addr add %s dev %s nodad", netip.PrefixFrom(c.V6, c.net6.Bits()), c.If),
		fmt.Sprintf("link set %s up", c.If),
	}
	if err := ipBatch(c.NS, client); err != nil {
		return err
	}
	if err := waitReady(c.server, c.ServerIf, c.ServerV4, c.ServerV6); err != nil {
		return err
	}
	return waitReady(c.NS, c.If, c.V4, c.V6)
}

// AddAddr adds prefix's address to the client's end of the link as an
// extra source address; when it lies outside the link's subnets, the server
// gets a route to prefix through the link. It waits until the address is
// usable, and fails when prefix is invalid or a command fails.
func (c *Client) AddAddr(prefix netip.Prefix) error {
	prefix = netip.PrefixFrom(prefix.Addr().Unmap(), prefix.Bits())
	if !prefix.IsValid() {
		return fmt.Errorf("namespace %q: add address: invalid prefix %q", c.NS.Name, prefix)
	}
	line := fmt.Sprintf("addr add %s dev %s", prefix, c.If)
	if prefix.Addr().Is6() {
		line += " nodad"
	}
	if err := ipBatch(c.NS, []string{line}); err != nil {
		return err
	}
	if !c.net4.Contains(prefix.Addr()) && !c.net6.Contains(prefix.Addr()) {
		route := fmt.Sprintf("route add %s dev %s", prefix.Masked(), c.ServerIf)
		if err := ipBatch(c.server, []string{route}); err != nil {
			return err
		}
	}
	return waitReady(c.NS, c.If, prefix.Addr())
}

// ipBatch runs lines as one `ip -n NS -batch -` inside n.
func ipBatch(n *NS, lines []string) error {
	cmd := exec.Command("ip", "-n", n.Name, "-batch", "-")
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("namespace %q: ip batch %q: %w: %s", n.Name, lines, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// ipLink is the part of `ip -j addr show` that readiness depends on.
type ipLink struct {
	OperState string `json:"operstate"`
	AddrInfo  []struct {
		Local     string `json:"local"`
		Tentative bool   `json:"tentative"`
		DADFailed bool   `json:"dadfailed"`
	} `json:"addr_info"`
}

// waitReady polls until dev inside n is operationally up and holds every
// address in want, none of them tentative, and fails after readyTimeout.
func waitReady(n *NS, dev string, want ...netip.Addr) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		state, err := linkState(n, dev, want)
		if err != nil {
			return err
		}
		if state == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("namespace %q: link %q not ready after %v: %s", n.Name, dev, readyTimeout, state)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// linkState returns why dev is not ready yet, or "" once it is.
func linkState(n *NS, dev string, want []netip.Addr) (string, error) {
	out, err := exec.Command("ip", "-n", n.Name, "-j", "addr", "show", "dev", dev).Output()
	if err != nil {
		return "", fmt.Errorf("namespace %q: show link %q: %w", n.Name, dev, err)
	}
	var links []ipLink
	if err := json.Unmarshal(out, &links); err != nil {
		return "", fmt.Errorf("namespace %q: show link %q: %w", n.Name, dev, err)
	}
	if len(links) != 1 {
		return "", fmt.Errorf("namespace %q: show link %q: %d links", n.Name, dev, len(links))
	}
	l := links[0]
	if l.OperState != "UP" {
		return "operstate " + l.OperState, nil
	}
	for _, addr := range want {
		found := false
		for _, ai := range l.AddrInfo {
			a, err := netip.ParseAddr(ai.Local)
			if err != nil || a != addr {
				continue
			}
			if ai.DADFailed {
				return "", fmt.Errorf("namespace %q: link %q: address %s failed duplicate address detection", n.Name, dev, addr)
			}
			if ai.Tentative {
				return "address " + addr.String() + " tentative", nil
			}
			found = true
		}
		if !found {
			return "", fmt.Errorf("namespace %q: link %q: address %s missing", n.Name, dev, addr)
		}
	}
	return "", nil
}
