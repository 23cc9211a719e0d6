//go:build linux

package hostnet

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// sockDiagByFamily is SOCK_DIAG_BY_FAMILY, the sock_diag request type.
const sockDiagByFamily = 20

// tcpListen is the TCP_LISTEN state's bit in inet_diag_req_v2's states.
const tcpListen = 1 << 10

// tcpListeners asks sock_diag for the TCP sockets listening on port, IPv4
// and IPv6, in the calling thread's network namespace. With only the
// listen state requested the kernel walks just its listening hash.
func tcpListeners(port uint16) ([]string, error) {
	c, err := netlink.Dial(unix.NETLINK_SOCK_DIAG, nil)
	if err != nil {
		return nil, fmt.Errorf("sock_diag: %w", err)
	}
	defer c.Close()
	var out []string
	for _, fam := range []uint8{unix.AF_INET, unix.AF_INET6} {
		// struct inet_diag_req_v2: family, protocol, ext, pad, states,
		// then the socket id (ports, addresses, interface, cookie).
		req := make([]byte, 56)
		req[0], req[1] = fam, unix.IPPROTO_TCP
		binary.NativeEndian.PutUint32(req[4:], tcpListen)
		binary.BigEndian.PutUint16(req[8:], port) // ignored for dumps; filtered below
		msgs, err := c.Execute(netlink.Message{
			Header: netlink.Header{Type: sockDiagByFamily, Flags: netlink.Request | netlink.Dump},
			Data:   req,
		})
		if err != nil {
			return nil, fmt.Errorf("sock_diag dump of TCP listeners: %w", err)
		}
		for _, m := range msgs {
			// struct inet_diag_msg: family, state, timer, retrans, then the id:
			// sport, dport (network order), src[16], dst[16], …
			d := m.Data
			if len(d) < 4+4+32 || binary.BigEndian.Uint16(d[4:]) != port {
				continue
			}
			name := "tcp"
			var a netip.Addr
			if d[0] == unix.AF_INET6 {
				name = "tcp6"
				a = netip.AddrFrom16([16]byte(d[8:24]))
			} else {
				a = netip.AddrFrom4([4]byte(d[8:12]))
			}
			out = append(out, fmt.Sprintf("%s %s", name, netip.AddrPortFrom(a, port)))
		}
	}
	return out, nil
}
