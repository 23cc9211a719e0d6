package compiler

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/knockc/knockc/ruleset"
)

// Step is one port and protocol: a knock, or a protected port. It parses
// "7000/tcp", knockd's "7000:tcp", and a bare "7000" (tcp).
type Step struct {
	Port  uint16
	Proto ruleset.Proto
}

// String returns "7000/tcp".
func (s Step) String() string { return fmt.Sprintf("%d/%s", s.Port, s.Proto) }

// UnmarshalText parses a step; it fails on a port outside 1–65535 or a
// protocol other than tcp or udp.
func (s *Step) UnmarshalText(b []byte) error {
	text := strings.TrimSpace(string(b))
	port, proto, found := strings.Cut(text, "/")
	if !found {
		port, proto, found = strings.Cut(text, ":")
	}
	if !found {
		proto = "tcp"
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q: port must be a number from 1 to 65535 (write \"7000/tcp\", \"7000:udp\" or \"7000\")", text)
	}
	switch strings.ToLower(proto) {
	case "tcp":
		s.Proto = ruleset.TCP
	case "udp":
		s.Proto = ruleset.UDP
	default:
		return fmt.Errorf("%q: protocol must be tcp or udp, not %q", text, proto)
	}
	s.Port = uint16(n)
	return nil
}

// TimeoutGrain is what every duration must be a multiple of. The kernel
// keeps a set's timeout in jiffies, rounding down: at HZ 250 a "150ms"
// timeout becomes 148 ms, which nft lists and knockc reads back, so the
// table would never match its spec (docs/testing.md). 20 ms is a whole
// number of ticks at HZ 100, 250, 300 and 1000.
const TimeoutGrain = 20 * time.Millisecond

// Duration is a Go duration written as a string ("5s", "1m30s").
type Duration time.Duration

// UnmarshalText parses a Go duration; it fails on anything else, on a
// negative value and on one that is not a multiple of TimeoutGrain.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration (write e.g. \"5s\", \"1m30s\")", string(b))
	}
	if v <= 0 {
		return fmt.Errorf("%q: duration must be positive", string(b))
	}
	if v%TimeoutGrain != 0 {
		lo := v - v%TimeoutGrain
		eg := fmt.Sprintf("%q", (lo + TimeoutGrain).String())
		if lo > 0 {
			eg = fmt.Sprintf("%q or %s", lo.String(), eg)
		}
		return fmt.Errorf("%q: the kernel keeps timeouts in clock ticks (4 ms at HZ 250, 10 ms at HZ 100) and would cut it short; write a multiple of %v, e.g. %s", string(b), TimeoutGrain, eg)
	}
	*d = Duration(v)
	return nil
}

// TCPFlags says which TCP packets count as a knock: the flags in Mask must
// equal those in Flags. It parses knockd's syntax, "syn,!ack": a bare name
// must be set, a name after "!" must be clear, all others do not matter.
type TCPFlags struct{ Flags, Mask uint8 }

// UnmarshalText parses knockd's tcpflags syntax; it fails on an unknown
// flag, a flag named twice, or no flag that must be set.
func (f *TCPFlags) UnmarshalText(b []byte) error {
	var out TCPFlags
	for _, part := range strings.Split(string(b), ",") {
		name := strings.ToLower(strings.TrimSpace(part))
		neg := strings.HasPrefix(name, "!")
		name = strings.TrimPrefix(name, "!")
		bit, ok := ruleset.FlagBit(name)
		if !ok {
			return fmt.Errorf("%q: unknown TCP flag %q (allowed: fin, syn, rst, psh, ack, urg, ecn, cwr, each optionally preceded by !)", string(b), name)
		}
		if out.Mask&bit != 0 {
			return fmt.Errorf("%q: flag %q named twice", string(b), name)
		}
		out.Mask |= bit
		if !neg {
			out.Flags |= bit
		}
	}
	if out.Flags == 0 {
		return fmt.Errorf("%q: at least one flag must be set (e.g. \"syn,!ack\")", string(b))
	}
	*f = out
	return nil
}

// String renders the flags in knockd's syntax.
func (f TCPFlags) String() string {
	var parts []string
	for i := 0; i < 8; i++ {
		bit := uint8(1) << i
		if f.Mask&bit == 0 {
			continue
		}
		name := ruleset.FlagNames(bit)
		if f.Flags&bit == 0 {
			name = "!" + name
		}
		parts = append(parts, name)
	}
	return strings.Join(parts, ",")
}
