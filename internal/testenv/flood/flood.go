// Package flood sends spoofed TCP SYN floods for knockc's benchmarks: the
// partial knocks of the flood target in docs/design.md, from random source addresses, at a fixed
// rate, from inside a test network namespace. It is never used outside
// benchmarks and tests, and only towards addresses inside those namespaces.
package flood

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"

	"github.com/knockc/knockc/internal/sandbox"
)

// SYN sends IPv4 TCP SYNs to dst at rate packets per second for d, cycling
// through ports, each from a random source inside src. It works in the
// network namespace of the calling OS thread (run it inside NS.Do) and
// needs CAP_NET_RAW. It returns how many packets were sent.
func SYN(ctx context.Context, src netip.Prefix, dst netip.Addr, ports []uint16, rate int, d time.Duration) (int, error) {
	if !dst.Is4() || !src.Addr().Is4() || len(ports) == 0 || rate <= 0 {
		return 0, fmt.Errorf("flood: need IPv4 addresses, ports and a positive rate")
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW)
	if err != nil {
		return 0, fmt.Errorf("flood: raw socket: %w", err)
	}
	defer unix.Close(fd)
	to := &unix.SockaddrInet4{Addr: dst.As4()}
	rnd := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	base := binary.BigEndian.Uint32(src.Masked().Addr().AsSlice())
	hostBits := uint32(1)<<(32-src.Bits()) - 1
	pkt := make([]byte, 40)
	sent := 0
	start := time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for time.Since(start) < d {
		select {
		case <-ctx.Done():
			return sent, ctx.Err()
		case <-tick.C:
		}
		due := int(time.Since(start).Seconds()*float64(rate)) - sent
		for i := 0; i < due; i++ {
			s := base | (rnd.Uint32() & hostBits)
			build(pkt, s, binary.BigEndian.Uint32(dst.AsSlice()), uint16(rnd.UintN(50000)+10000), ports[sent%len(ports)], rnd.Uint32())
			if err := unix.Sendto(fd, pkt, 0, to); err != nil {
				return sent, fmt.Errorf("flood: send: %w", err)
			}
			sent++
		}
	}
	return sent, nil
}

// build writes an IPv4 header and a TCP SYN (sandbox.PutTCP) with correct
// checksums into p[:40].
func build(p []byte, src, dst uint32, sport, dport uint16, seq uint32) {
	clear(p[:20])
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:], 40)
	p[8] = 64
	p[9] = unix.IPPROTO_TCP
	binary.BigEndian.PutUint32(p[12:], src)
	binary.BigEndian.PutUint32(p[16:], dst)
	binary.BigEndian.PutUint16(p[10:], sandbox.Checksum(p[:20]))
	sandbox.PutTCP(p[20:40], addr4(src), addr4(dst), sport, dport, seq, 0, sandbox.SYN)
}

// addr4 returns the IPv4 address a as a netip.Addr.
func addr4(a uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], a)
	return netip.AddrFrom4(b)
}

// SYNs sends one IPv4 TCP SYN to dst:port from each source address, as
// fast as the socket takes them: many distinct knockers at once. Like SYN
// it works in the calling thread's network namespace and needs CAP_NET_RAW.
func SYNs(srcs []netip.Addr, dst netip.Addr, port uint16) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW)
	if err != nil {
		return fmt.Errorf("flood: raw socket: %w", err)
	}
	defer unix.Close(fd)
	to := &unix.SockaddrInet4{Addr: dst.As4()}
	pkt := make([]byte, 40)
	for i, s := range srcs {
		if !s.Is4() {
			return fmt.Errorf("flood: %s is not IPv4", s)
		}
		build(pkt, binary.BigEndian.Uint32(s.AsSlice()), binary.BigEndian.Uint32(dst.AsSlice()), uint16(20000+i%40000), port, uint32(i))
		if err := unix.Sendto(fd, pkt, 0, to); err != nil {
			return fmt.Errorf("flood: send: %w", err)
		}
	}
	return nil
}
