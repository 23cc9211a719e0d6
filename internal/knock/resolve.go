package knock

import (
	"context"
	"fmt"
	"net"
	"net/netip"
)

// Resolve returns the address to knock for host: host itself when it is an
// IP literal ("198.51.100.7", "2001:db8::7" or "[2001:db8::7]", with an
// optional %zone), else the first address opts.Resolver (net.DefaultResolver
// when nil) returns for it in opts.Network. Knocks must all come from one
// source to one destination, so a host with both families gets one of them:
// the resolver's first, which for the default resolver follows RFC 6724
// (IPv6 first only when this host can reach it). It fails on an unknown
// network, a literal of the other family than opts.Network, and a name that
// does not resolve to an address of the wanted family.
func Resolve(ctx context.Context, host string, opts Options) (netip.Addr, error) {
	network := opts.Network
	if network == "" {
		network = "ip"
	}
	if network != "ip" && network != "ip4" && network != "ip6" {
		return netip.Addr{}, fmt.Errorf("resolve %q: network %q is not ip, ip4 or ip6", host, network)
	}
	if host == "" {
		return netip.Addr{}, fmt.Errorf("resolve: empty host")
	}
	if a, ok := hostLiteral(host); ok {
		if !inNetwork(a, network) {
			return netip.Addr{}, fmt.Errorf("resolve %q: %s is not an %s address", host, a, familyName(network))
		}
		return a, nil
	}
	r := opts.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	addrs, err := r.LookupNetIP(ctx, network, host)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("resolve %q: %w", host, err)
	}
	for _, a := range addrs {
		if a = a.Unmap(); a.IsValid() && inNetwork(a, network) {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("resolve %q: no %s address", host, familyName(network))
}

// inNetwork reports whether a belongs to network ("ip", "ip4" or "ip6").
func inNetwork(a netip.Addr, network string) bool {
	switch network {
	case "ip4":
		return a.Is4()
	case "ip6":
		return a.Is6()
	}
	return true
}

func familyName(network string) string {
	switch network {
	case "ip4":
		return "IPv4"
	case "ip6":
		return "IPv6"
	}
	return "IP"
}
