package stealth

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/knockc/knockc/internal/testenv/netns"
	"golang.org/x/sys/unix"
)

// Target is where probes go: a name for the table and the TCP and UDP
// port that stand for it.
type Target struct {
	Name    string
	TCPPort uint16
	UDPPort uint16
}

// Env is the client side of a link: its namespace and interface, the
// server's MAC address on the link, and both ends' addresses.
type Env struct {
	Client     *netns.NS
	Interface  string
	ServerMAC  net.HardwareAddr
	Src4, Dst4 netip.Addr
	Src6, Dst6 netip.Addr
}

// Rounds is how many times each probe goes to each target, from a fresh
// source port each time: two, so that a field varying per flow shows.
const Rounds = 2

// Wait is how long Run listens for answers after the last probe.
const Wait = 400 * time.Millisecond

// Run sends every probe to every target Rounds times, 1 ms apart, from a
// distinct source port each, captures the answers on the client's
// interface and returns them. It fails when the packet socket cannot be
// opened or a probe cannot be sent.
func Run(env Env, probes []Probe, targets []Target) (*Report, error) {
	var all []*sent
	sport := uint16(20000)
	for round := 0; round < Rounds; round++ {
		for _, p := range probes {
			for _, t := range targets {
				src, dst := env.Src4, env.Dst4
				if p.IPv6 {
					src, dst = env.Src6, env.Dst6
				}
				dport := t.TCPPort
				if p.UDP {
					dport = t.UDPPort
				}
				if p.Port != 0 {
					dport = p.Port
				}
				sp := sport
				if p.SPort != 0 {
					sp = p.SPort + uint16(round)
				}
				s := &sent{probe: p, target: t.Name, round: round, src: src, dst: dst, sport: sp, dport: dport}
				s.bytes = p.build(src, dst, sp, dport)
				all = append(all, s)
				sport++
			}
		}
	}
	answers := map[uint16][][]byte{}
	err := env.Client.Do(func() error {
		ifi, err := net.InterfaceByName(env.Interface)
		if err != nil {
			return fmt.Errorf("stealth: interface %q: %w", env.Interface, err)
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return fmt.Errorf("stealth: packet socket: %w", err)
		}
		defer unix.Close(fd)
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
			return fmt.Errorf("stealth: bind packet socket to %q: %w", env.Interface, err)
		}
		tv := unix.NsecToTimeval((50 * time.Millisecond).Nanoseconds())
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			return fmt.Errorf("stealth: receive timeout: %w", err)
		}
		var mu sync.Mutex
		done := make(chan struct{})
		var last time.Time
		recvDone := make(chan error, 1)
		go func() {
			buf := make([]byte, 65536)
			for {
				n, from, err := unix.Recvfrom(fd, buf, 0)
				if err != nil {
					if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
						select {
						case <-done:
							mu.Lock()
							quiet := time.Since(last) > Wait
							mu.Unlock()
							if quiet {
								recvDone <- nil
								return
							}
						default:
						}
						continue
					}
					recvDone <- fmt.Errorf("stealth: capture: %w", err)
					return
				}
				ll, ok := from.(*unix.SockaddrLinklayer)
				if !ok || ll.Pkttype != unix.PACKET_HOST {
					continue
				}
				var v6 bool
				switch ll.Protocol {
				case htons(unix.ETH_P_IP):
				case htons(unix.ETH_P_IPV6):
					v6 = true
				default:
					continue
				}
				pkt := append([]byte(nil), buf[:n]...)
				if sp, ok := answerSport(pkt, v6); ok {
					mu.Lock()
					answers[sp] = append(answers[sp], pkt)
					last = time.Now()
					mu.Unlock()
				}
			}
		}()
		var sendErr error
		for _, s := range all {
			proto := unix.ETH_P_IP
			if s.probe.IPv6 {
				proto = unix.ETH_P_IPV6
			}
			to := &unix.SockaddrLinklayer{Protocol: htons(uint16(proto)), Ifindex: ifi.Index, Halen: 6}
			copy(to.Addr[:], env.ServerMAC)
			if err := unix.Sendto(fd, s.bytes, 0, to); err != nil {
				sendErr = fmt.Errorf("stealth: send %s to %s: %w", s.probe.Name, s.target, err)
				break
			}
			time.Sleep(time.Millisecond)
		}
		mu.Lock()
		last = time.Now()
		mu.Unlock()
		close(done)
		return errors.Join(sendErr, <-recvDone)
	})
	if err != nil {
		return nil, err
	}
	r := &Report{Targets: targets, Probes: probes}
	for _, s := range all {
		r.add(s, answers[s.sport])
	}
	return r, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
