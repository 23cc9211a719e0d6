package sandbox

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/knockc/knockc/internal/knock"
)

// TCP header flags for SendTCPFlags and PutTCP.
const (
	FIN uint8 = 0x01
	SYN uint8 = 0x02
	RST uint8 = 0x04
	PSH uint8 = 0x08
	ACK uint8 = 0x10
	URG uint8 = 0x20
	ECE uint8 = 0x40
	CWR uint8 = 0x80
)

// Outcome is how a TCP connection attempt ended.
type Outcome int

// The outcomes of a connection attempt.
const (
	Open    Outcome = iota // the handshake completed
	Refused                // the server answered with a reset
	Timeout                // nothing came back in time
	Error                  // any other failure
)

// String returns "open", "refused", "timeout" or "error".
func (o Outcome) String() string {
	switch o {
	case Open:
		return "open"
	case Refused:
		return "refused"
	case Timeout:
		return "timeout"
	default:
		return "error"
	}
}

// KnockTCP sends one TCP SYN from the client to dst:port, as KnockTCPFrom
// with the source address the route picks.
func (c *Client) KnockTCP(dst netip.Addr, port uint16) error {
	return c.KnockTCPFrom(netip.Addr{}, dst, port)
}

// KnockTCPFrom sends one TCP SYN from src (if valid) to dst:port with
// knockc's own knocker (knock.SendSYN: a non-blocking connect, the socket
// closed at once, long before any retransmission); it fails when the socket
// cannot be made, bound or connected. The SYN has left the socket when it returns; over veth it is
// normally delivered before that, but tests should poll for its effect.
// A listener on the port may see the handshake complete inside connect;
// the close then aborts it with a reset.
func (c *Client) KnockTCPFrom(src, dst netip.Addr, port uint16) error {
	src, dst = src.Unmap(), dst.Unmap()
	err := c.NS.Do(func() error {
		if !dst.IsValid() {
			return errors.New("no destination address")
		}
		return knock.SendSYN(src, dst, port)
	})
	if err != nil {
		return fmt.Errorf("knock tcp %s from %q: %w", netip.AddrPortFrom(dst, port), c.NS.Name, err)
	}
	return nil
}

// KnockUDP sends one UDP datagram holding a single zero byte from the
// client to dst:port, as KnockUDPFrom with the source the route picks.
func (c *Client) KnockUDP(dst netip.Addr, port uint16) error {
	return c.KnockUDPFrom(netip.Addr{}, dst, port)
}

// KnockUDPFrom sends one UDP datagram holding a single zero byte from src
// (if valid) to dst:port; it fails when the socket cannot be made, bound or
// the datagram cannot be sent.
func (c *Client) KnockUDPFrom(src, dst netip.Addr, port uint16) error {
	src, dst = src.Unmap(), dst.Unmap()
	err := c.NS.Do(func() error {
		var laddr *net.UDPAddr
		if src.IsValid() {
			laddr = net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0))
		}
		conn, err := net.DialUDP("udp", laddr, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, port)))
		if err != nil {
			return err
		}
		defer conn.Close()
		_, err = conn.Write([]byte{0})
		return err
	})
	if err != nil {
		return fmt.Errorf("knock udp %s from %q: %w", netip.AddrPortFrom(dst, port), c.NS.Name, err)
	}
	return nil
}

// Connect tries a full TCP connection from the client to dst:port within
// timeout, closes it, and reports how the attempt ended.
func (c *Client) Connect(dst netip.Addr, port uint16, timeout time.Duration) Outcome {
	o, _ := c.TryConnect(netip.Addr{}, dst, port, timeout)
	return o
}

// ConnectFrom is Connect from the client's address src.
func (c *Client) ConnectFrom(src, dst netip.Addr, port uint16, timeout time.Duration) Outcome {
	o, _ := c.TryConnect(src, dst, port, timeout)
	return o
}

// TryConnect is ConnectFrom (Connect when src is the zero Addr) that also
// returns the error behind every outcome but Open.
func (c *Client) TryConnect(src, dst netip.Addr, port uint16, timeout time.Duration) (Outcome, error) {
	conn, err := c.DialFrom(src, dst, port, timeout)
	switch {
	case err == nil:
		_ = conn.Close()
		return Open, nil
	case errors.Is(err, syscall.ECONNREFUSED):
		return Refused, err
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return Timeout, err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return Timeout, err
	}
	return Error, err
}

// Dial opens a TCP connection from the client to dst:port within timeout;
// the connection stays in the client's namespace and may be used from any
// goroutine. It fails when the handshake does not complete in time.
func (c *Client) Dial(dst netip.Addr, port uint16, timeout time.Duration) (net.Conn, error) {
	return c.DialFrom(netip.Addr{}, dst, port, timeout)
}

// DialFrom is Dial from the client's address src (any when src is the zero
// Addr).
func (c *Client) DialFrom(src, dst netip.Addr, port uint16, timeout time.Duration) (net.Conn, error) {
	src, dst = src.Unmap(), dst.Unmap()
	d := net.Dialer{Timeout: timeout}
	if src.IsValid() {
		d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0))
	}
	var conn net.Conn
	err := c.NS.Do(func() error {
		var err error
		conn, err = d.Dial("tcp", netip.AddrPortFrom(dst, port).String())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("dial %s from %q: %w", netip.AddrPortFrom(dst, port), c.NS.Name, err)
	}
	return conn, nil
}

// SendTCPFlags sends one hand-made TCP segment with exactly flags set and
// no payload from src (the route's pick when src is the zero Addr) to
// dst:port through a raw socket, with a random source port and sequence
// number and a correct checksum; it fails when the raw socket cannot be
// made, bound to src, or the segment cannot be sent.
func (c *Client) SendTCPFlags(src, dst netip.Addr, port uint16, flags uint8) error {
	src, dst = src.Unmap(), dst.Unmap()
	err := c.NS.Do(func() error {
		if !src.IsValid() {
			var err error
			if src, err = routeSource(dst, port); err != nil {
				return err
			}
		}
		family, err := family(src, dst)
		if err != nil {
			return err
		}
		fd, err := unix.Socket(family, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
		if err != nil {
			return fmt.Errorf("raw socket: %w", err)
		}
		defer unix.Close(fd)
		if err := unix.Bind(fd, sockaddr(src, 0)); err != nil {
			return fmt.Errorf("bind %s: %w", src, err)
		}
		seg := make([]byte, 20)
		PutTCP(seg, src, dst, uint16(32768+rand.IntN(28232)), port, rand.Uint32(), rand.Uint32()|1, flags)
		if err := unix.Sendto(fd, seg, 0, sockaddr(dst, 0)); err != nil {
			return fmt.Errorf("send: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("send tcp flags %#02x to %s from %q: %w", flags, netip.AddrPortFrom(dst, port), c.NS.Name, err)
	}
	return nil
}

// routeSource returns the source address the kernel picks for dst.
func routeSource(dst netip.Addr, port uint16) (netip.Addr, error) {
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, port)))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("pick source address: %w", err)
	}
	defer conn.Close()
	return conn.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap(), nil
}

// PutTCP writes a 20-byte TCP header without options into seg[:20]:
// the ports, seq, ack (sent only when flags has ACK), flags, a window of
// 64240 and the checksum over the IPv4 or IPv6 pseudo header of src and
// dst, so that the receiving stack accepts the segment. src and dst must be
// of one family.
func PutTCP(seg []byte, src, dst netip.Addr, sport, dport uint16, seq, ack uint32, flags uint8) {
	seg = seg[:20]
	clear(seg)
	binary.BigEndian.PutUint16(seg[0:], sport)
	binary.BigEndian.PutUint16(seg[2:], dport)
	binary.BigEndian.PutUint32(seg[4:], seq)
	if flags&ACK != 0 {
		binary.BigEndian.PutUint32(seg[8:], ack)
	}
	seg[12] = 5 << 4 // data offset: 5 words, no options
	seg[13] = flags
	binary.BigEndian.PutUint16(seg[14:], 64240) // window
	var pseudo [40]byte
	p := append(append(pseudo[:0], src.AsSlice()...), dst.AsSlice()...)
	if src.Is4() {
		p = append(p, 0, unix.IPPROTO_TCP)
		p = binary.BigEndian.AppendUint16(p, uint16(len(seg)))
	} else {
		p = binary.BigEndian.AppendUint32(p, uint32(len(seg)))
		p = append(p, 0, 0, 0, unix.IPPROTO_TCP)
	}
	binary.BigEndian.PutUint16(seg[16:], Checksum(p, seg))
}

// Checksum returns the Internet checksum (RFC 1071) of parts laid end to
// end; every part but the last must have an even length. The checksum
// field inside the parts must be zero.
func Checksum(parts ...[]byte) uint16 {
	var sum uint32
	for _, b := range parts {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(binary.BigEndian.Uint16(b[i:]))
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// family returns the socket family for dst, and fails when src is valid
// but of the other family or dst is not valid.
func family(src, dst netip.Addr) (int, error) {
	switch {
	case !dst.IsValid():
		return 0, errors.New("no destination address")
	case src.IsValid() && src.Is4() != dst.Is4():
		return 0, fmt.Errorf("source %s and destination %s differ in family", src, dst)
	case dst.Is4():
		return unix.AF_INET, nil
	default:
		return unix.AF_INET6, nil
	}
}

// sockaddr returns addr and port as a unix.Sockaddr.
func sockaddr(addr netip.Addr, port uint16) unix.Sockaddr {
	if addr.Is4() {
		return &unix.SockaddrInet4{Addr: addr.As4(), Port: int(port)}
	}
	return &unix.SockaddrInet6{Addr: addr.As16(), Port: int(port)}
}
