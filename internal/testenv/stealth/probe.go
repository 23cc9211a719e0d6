package stealth

import "fmt"

// Probe is one raw packet a scanner might send.
type Probe struct {
	Name    string
	IPv6    bool
	UDP     bool
	Flags   uint8  // TCP flags
	TOS     uint8  // IPv4 TOS or IPv6 traffic class (DSCP and ECN bits)
	Options []byte // IPv4 options, a multiple of 4 bytes
	DstOpts bool   // IPv6: an (empty) destination options header before TCP/UDP
	Payload []byte
	// Port, when set, is where the probe goes whatever the target (for
	// tests that send a sequence of probes to chosen ports).
	Port uint16
	// SPort, when set, is the probe's source port (round r uses SPort+r).
	SPort uint16
}

// Family returns "ipv4" or "ipv6".
func (p Probe) Family() string {
	if p.IPv6 {
		return "ipv6"
	}
	return "ipv4"
}

// IPv4 options the probes carry: record route with room for three
// addresses, and timestamps only with room for two (each padded to a
// multiple of 4 bytes with end-of-options).
var (
	recordRoute = []byte{7, 15, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	timestamp   = []byte{0x44, 12, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0}
)

// tosCE is DSCP AF11 with the ECN codepoint CE: both halves of the byte
// a stack may reflect or clear.
const tosCE = 0x2b

// Probes returns the standard probe list: each TCP flag combination a
// scanner uses (SYN, ACK, FIN, NULL, Xmas, SYN-ACK, data, RST, an
// ECN-setup SYN) plain and with TOS/traffic class and ECN bits, IPv4
// options (record route, timestamp) on SYN, FIN and ACK, an IPv6
// destination options header on SYN, FIN and UDP, and UDP, over IPv4 and
// IPv6.
func Probes() []Probe {
	kinds := []struct {
		name    string
		flags   uint8
		payload []byte
	}{
		{"SYN", SYN, nil},
		{"ACK", ACK, nil},
		{"FIN", FIN, nil},
		{"NULL", 0, nil},
		{"Xmas", FIN | PSH | URG, nil},
		{"SYN-ACK", SYN | ACK, nil},
		{"data", PSH | ACK, []byte("GET / HTTP/1.0\r\n\r\n")},
		{"RST", RST, nil},
	}
	var out []Probe
	for _, v6 := range []bool{false, true} {
		for _, k := range kinds {
			out = append(out, Probe{Name: k.name, IPv6: v6, Flags: k.flags, Payload: k.payload})
			out = append(out, Probe{Name: fmt.Sprintf("%s tos=%#02x", k.name, tosCE), IPv6: v6, Flags: k.flags, TOS: tosCE, Payload: k.payload})
		}
		out = append(out,
			Probe{Name: "SYN ECE,CWR", IPv6: v6, Flags: SYN | ECE | CWR},
			Probe{Name: "SYN tos=0x02 (ECT0)", IPv6: v6, Flags: SYN, TOS: 0x02})
		if !v6 {
			out = append(out,
				Probe{Name: "SYN +RR", Flags: SYN, Options: recordRoute},
				Probe{Name: "SYN +TS", Flags: SYN, Options: timestamp},
				Probe{Name: "FIN +RR", Flags: FIN, Options: recordRoute},
				Probe{Name: "ACK +TS", Flags: ACK, Options: timestamp})
		}
		if v6 {
			out = append(out,
				Probe{Name: "SYN +dstopts", IPv6: true, Flags: SYN, DstOpts: true},
				Probe{Name: "FIN +dstopts", IPv6: true, Flags: FIN, DstOpts: true})
		}
		udp := []byte("probe")
		out = append(out,
			Probe{Name: "UDP", IPv6: v6, UDP: true, Payload: udp},
			Probe{Name: fmt.Sprintf("UDP tos=%#02x", tosCE), IPv6: v6, UDP: true, TOS: tosCE, Payload: udp})
		if !v6 {
			out = append(out, Probe{Name: "UDP +RR", UDP: true, Options: recordRoute, Payload: udp})
		} else {
			out = append(out, Probe{Name: "UDP +dstopts", IPv6: true, UDP: true, DstOpts: true, Payload: udp})
		}
	}
	return out
}
