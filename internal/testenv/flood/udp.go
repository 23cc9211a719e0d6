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

// UDP sends IPv4 UDP datagrams of payload random bytes to dst:port at rate
// packets per second for d, each from a random source inside src: forged
// token knocks. Like SYN it works in the calling thread's network
// namespace, needs CAP_NET_RAW and returns how many packets were sent.
func UDP(ctx context.Context, src netip.Prefix, dst netip.Addr, port uint16, payload, rate int, d time.Duration) (int, error) {
	if !dst.Is4() || !src.Addr().Is4() || rate <= 0 || payload < 0 || payload > 1400 {
		return 0, fmt.Errorf("flood: need IPv4 addresses, a positive rate and a payload of at most 1400 bytes")
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
	pkt := make([]byte, 28+payload)
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
			for j := 28; j < len(pkt); j += 8 {
				var b [8]byte
				binary.LittleEndian.PutUint64(b[:], rnd.Uint64())
				copy(pkt[j:], b[:])
			}
			buildUDP(pkt, s, binary.BigEndian.Uint32(dst.AsSlice()), uint16(rnd.UintN(50000)+10000), port)
			if err := unix.Sendto(fd, pkt, 0, to); err != nil {
				return sent, fmt.Errorf("flood: send: %w", err)
			}
			sent++
		}
	}
	return sent, nil
}

// buildUDP writes an IPv4 header and a UDP header (checksum 0: none, which
// IPv4 allows) in front of the payload already in p[28:].
func buildUDP(p []byte, src, dst uint32, sport, dport uint16) {
	clear(p[:28])
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	p[8] = 64
	p[9] = unix.IPPROTO_UDP
	binary.BigEndian.PutUint32(p[12:], src)
	binary.BigEndian.PutUint32(p[16:], dst)
	binary.BigEndian.PutUint16(p[10:], sandbox.Checksum(p[:20]))
	binary.BigEndian.PutUint16(p[20:], sport)
	binary.BigEndian.PutUint16(p[22:], dport)
	binary.BigEndian.PutUint16(p[24:], uint16(len(p)-20))
}
