//go:build linux

package topup_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"github.com/knockc/knockc/internal/testenv/flood"
)

// floodUDP is flood.UDP.
var floodUDP = func(ctx context.Context, src netip.Prefix, dst netip.Addr, port uint16, payload, rate int, d time.Duration) (int, error) {
	return flood.UDP(ctx, src, dst, port, payload, rate, d)
}

// sendFrom sends payload in one UDP datagram from src to dst's token port.
func sendFrom(src, dst netip.Addr, payload []byte) error {
	c, err := net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0)), net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, tokenPort)))
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write(payload)
	return err
}

// udpProbe sends payload to dst:port on a connected UDP socket and reads
// the answer for 300 ms: "refused" when an ICMP port unreachable came back.
func udpProbe(dst netip.Addr, port uint16, payload []byte) string {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, port)))
	if err != nil {
		return "error: " + err.Error()
	}
	defer c.Close()
	if _, err := c.Write(payload); err != nil {
		return "error: " + err.Error()
	}
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	buf := make([]byte, 64)
	_, err = c.Read(buf)
	switch {
	case err == nil:
		return "data"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "silence"
	}
	return "error: " + err.Error()
}
