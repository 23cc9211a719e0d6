package flood

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// Blast sends IPv4 TCP SYNs to dst:port as fast as the socket takes them
// for d, each from a random source inside src and a random source port of
// 64, and returns how many it sent. Unlike SYN it has no rate: over a veth
// link the receiver's stack, firewall included, runs in the sender's
// softirq, so the rate reached is a measure of the receiver's per-packet
// cost. The 64 source ports keep the conntrack entries it makes bounded
// (at most 64 per source address). It works in the network namespace of
// the calling OS thread and needs CAP_NET_RAW.
func Blast(src netip.Prefix, dst netip.Addr, port uint16, d time.Duration) (int, error) {
	if !dst.Is4() || !src.Addr().Is4() {
		return 0, fmt.Errorf("flood: need IPv4 addresses")
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW)
	if err != nil {
		return 0, fmt.Errorf("flood: raw socket: %w", err)
	}
	defer unix.Close(fd)
	to := &unix.SockaddrInet4{Addr: dst.As4()}
	rnd := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))
	base := binary.BigEndian.Uint32(src.Masked().Addr().AsSlice())
	hostBits := uint32(1)<<(32-src.Bits()) - 1
	dst32 := binary.BigEndian.Uint32(dst.AsSlice())
	pkt := make([]byte, 40)
	sent := 0
	for end := time.Now().Add(d); ; {
		for range 256 {
			build(pkt, base|(rnd.Uint32()&hostBits), dst32, uint16(40000+rnd.UintN(64)), port, rnd.Uint32())
			if err := unix.Sendto(fd, pkt, 0, to); err != nil && err != unix.ENOBUFS {
				return sent, fmt.Errorf("flood: send: %w", err)
			}
			sent++
		}
		if time.Now().After(end) {
			return sent, nil
		}
	}
}
