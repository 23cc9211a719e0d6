package netns

import (
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/knockc/knockc/internal/sandbox"
)

// Pair is a server namespace and a client namespace joined by one veth
// pair, each end with an IPv4 and an IPv6 address usable at once.
type Pair struct {
	// Server and Client are the two namespaces.
	Server, Client *NS
	// ServerIf and ClientIf are the veth ends inside Server and Client.
	ServerIf, ClientIf string
	// ServerV4, ClientV4, ServerV6 and ClientV6 are the ends' addresses.
	ServerV4, ClientV4, ServerV6, ClientV6 netip.Addr
	// Primary is the first client, the same link as the fields above, for
	// tests that treat every client alike.
	Primary *Client

	links atomic.Int32 // links made so far; the next one gets links+1
}

// Client is one client namespace joined to a Pair's server by its own veth
// pair and subnets: a sandbox.Client (addresses, KnockTCP, Connect,
// SendTCPFlags…) whose namespace is the test's.
type Client struct {
	*sandbox.Client
	// NS is the client's namespace.
	NS *NS
}

// NewPair creates a server and a client namespace joined by a veth pair
// (198.18.1.1 and fd00:6b6e:1::1 on the server end, .2 and ::2 on the
// client end), waits until both ends are up and their addresses usable,
// and removes it all in t.Cleanup; it fails the test on error.
func NewPair(t testing.TB) *Pair {
	t.Helper()
	p := &Pair{Server: New(t, "knsrv")}
	c := p.AddClient(t)
	p.Client, p.Primary = c.NS, c
	p.ServerIf, p.ClientIf = c.ServerIf, c.If
	p.ServerV4, p.ClientV4 = c.ServerV4, c.V4
	p.ServerV6, p.ClientV6 = c.ServerV6, c.V6
	return p
}

// AddClient creates one more client namespace and joins it to the server
// through its own veth pair and subnets, so that its addresses differ from
// every other client's; it fails the test on error, so call it from the
// test's goroutine.
func (p *Pair) AddClient(t testing.TB) *Client {
	t.Helper()
	n := int(p.links.Add(1))
	if n > sandbox.MaxLinks {
		t.Fatalf("netns: namespace %q: more than %d clients", p.Server.Name, sandbox.MaxLinks)
	}
	c, err := Link(p.Server, New(t, "kncli"), n)
	if err != nil {
		t.Fatalf("netns: %v", err)
	}
	return c
}

// Link is sandbox.Link for namespaces a test made or attached itself: it
// joins client to server as link number n (1 to sandbox.MaxLinks, unique
// per server) and fails when the link cannot be made.
func Link(server, client *NS, n int) (*Client, error) {
	c, err := sandbox.Link(server.NS, client.NS, n)
	if err != nil {
		return nil, err
	}
	return &Client{Client: c, NS: client}, nil
}

// AddAddr adds prefix's address to the client's end of the link as an
// extra source address; when it lies outside the link's subnets, the server
// gets a route to prefix through the link. It waits until the address is
// usable and fails the test on error.
func (c *Client) AddAddr(t testing.TB, prefix netip.Prefix) {
	t.Helper()
	if err := c.Client.AddAddr(prefix); err != nil {
		t.Fatalf("netns: %v", err)
	}
}
