package view

import (
	"fmt"
	"io"
	"time"
)

// TraceEvent is one step of a traced packet, what `knockc trace` prints;
// with --json each is one line of JSON.
type TraceEvent struct {
	FormatVersion string    `json:"format_version"`
	Time          time.Time `json:"time"`
	// Packet numbers the packets of the trace from 1; the events of one
	// packet share it.
	Packet int    `json:"packet"`
	Table  string `json:"table"`
	Chain  string `json:"chain"`
	// Kind is "rule", "return" (the chain ended) or "policy" (a base
	// chain's policy decided).
	Kind string `json:"kind"`
	// Rule is the matching rule's comment for knockc's own rules (door,
	// role, step), else "handle N"; "" unless Kind is "rule".
	Rule    string `json:"rule"`
	Verdict string `json:"verdict"`
	// Packet header, on the first event of each packet; "" and 0 after.
	Src   string `json:"src"`
	Dst   string `json:"dst"`
	Proto string `json:"proto"` // "tcp", "udp", "icmp", "ipv6-icmp" or the number
	DPort int    `json:"dport"`
}

// ProtoName names an IP protocol number.
func ProtoName(p uint8) string {
	switch p {
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 1:
		return "icmp"
	case 58:
		return "ipv6-icmp"
	}
	return fmt.Sprint(p)
}

// WriteText writes the event as one line for people: the packet first
// (when this event carries it), then the chain and what decided.
func (e TraceEvent) WriteText(w io.Writer) {
	if e.Src != "" {
		port := ""
		if e.DPort != 0 {
			port = fmt.Sprintf(" dport %d", e.DPort)
		}
		fmt.Fprintf(w, "%s packet %d: %s > %s %s%s\n", e.Time.Format("15:04:05.000"), e.Packet, e.Src, e.Dst, e.Proto, port)
	}
	switch e.Kind {
	case "rule":
		fmt.Fprintf(w, "    %s %s: rule %s -> %s\n", e.Table, e.Chain, e.Rule, e.Verdict)
	case "return":
		fmt.Fprintf(w, "    %s %s: end of chain, back to the caller\n", e.Table, e.Chain)
	default:
		fmt.Fprintf(w, "    %s %s: policy %s\n", e.Table, e.Chain, e.Verdict)
	}
}
