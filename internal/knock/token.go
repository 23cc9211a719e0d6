package knock

import (
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// SendToken sends one UDP datagram to addr:port whose payload is tok: a
// token door's knock (docs/tokens.md). Like every knock it is a socket
// made and used on the calling goroutine, so it leaves from the calling
// thread's network namespace.
func SendToken(addr netip.Addr, port uint16, tok []byte) error {
	sa, err := sockaddr(addr, port)
	if err != nil {
		return err
	}
	fd, err := socket(domain(addr), unix.SOCK_DGRAM, unix.IPPROTO_UDP)
	if err != nil {
		return fmt.Errorf("udp socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Sendto(fd, tok, 0, sa); err != nil {
		return fmt.Errorf("send token to %s: %w", netip.AddrPortFrom(addr, port), err)
	}
	return nil
}
