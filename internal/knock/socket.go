package knock

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"golang.org/x/sys/unix"
)

// SendSYN sends exactly one TCP SYN from src (the route's pick when src is
// the zero Addr) to addr:port: a non-blocking connect on a fresh socket,
// closed at once with SO_LINGER 0. A socket closed in SYN-SENT is dropped
// without a reset and long before the first retransmission (1 s), so
// nothing but the SYN leaves this host. It fails when the socket cannot be
// made, bound to src (of another family, or not this host's) or connected.
// It is the one SYN sender of knockc: knockc knock and knockc demo use it.
func SendSYN(src, addr netip.Addr, port uint16) error {
	sa, err := sockaddr(addr, port)
	if err != nil {
		return err
	}
	fd, err := socket(domain(addr), unix.SOCK_STREAM, unix.IPPROTO_TCP)
	if err != nil {
		return fmt.Errorf("tcp socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0}); err != nil {
		return fmt.Errorf("set SO_LINGER: %w", err)
	}
	if src.IsValid() {
		if src.Is4() != addr.Is4() {
			return fmt.Errorf("source %s and destination %s differ in family", src, addr)
		}
		local, err := sockaddr(src, 0)
		if err != nil {
			return err
		}
		if err := unix.Bind(fd, local); err != nil {
			return fmt.Errorf("bind %s: %w", src, err)
		}
	}
	// The SYN is handed to the device inside connect; EINPROGRESS says so.
	// A listener on the port may even have answered already (connect then
	// returns 0 on a loopback-like link): the linger-0 close resets that.
	if err := unix.Connect(fd, sa); err != nil && !errors.Is(err, unix.EINPROGRESS) {
		return fmt.Errorf("connect: %w", err)
	}
	return nil
}

// sendUDP sends one datagram holding Payload to addr:port.
func sendUDP(addr netip.Addr, port uint16) error {
	sa, err := sockaddr(addr, port)
	if err != nil {
		return err
	}
	fd, err := socket(domain(addr), unix.SOCK_DGRAM, unix.IPPROTO_UDP)
	if err != nil {
		return fmt.Errorf("udp socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Sendto(fd, []byte(Payload), 0, sa); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	return nil
}

// domain returns the socket domain of addr.
func domain(addr netip.Addr) int {
	if addr.Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

// sockaddr turns addr and port into a socket address; an IPv6 zone may be
// an interface name or index. It fails on an invalid address or an unknown
// zone.
func sockaddr(addr netip.Addr, port uint16) (unix.Sockaddr, error) {
	switch {
	case !addr.IsValid():
		return nil, errors.New("no address")
	case addr.Is4():
		return &unix.SockaddrInet4{Addr: addr.As4(), Port: int(port)}, nil
	}
	sa := &unix.SockaddrInet6{Addr: addr.As16(), Port: int(port)}
	if zone := addr.Zone(); zone != "" {
		if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
			sa.ZoneId = uint32(n)
		} else {
			ifi, err := net.InterfaceByName(zone)
			if err != nil {
				return nil, fmt.Errorf("zone %q: %w", zone, err)
			}
			sa.ZoneId = uint32(ifi.Index)
		}
	}
	return sa, nil
}

// socket opens a non-blocking, close-on-exec socket, portably (Linux's
// SOCK_NONBLOCK and SOCK_CLOEXEC flags do not exist on macOS).
func socket(domain, typ, proto int) (int, error) {
	fd, err := unix.Socket(domain, typ, proto)
	if err != nil {
		return -1, err
	}
	unix.CloseOnExec(fd)
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}
