// Package knock is knockc's client: it sends a knock sequence to a host and
// optionally waits until the door it opens lets a TCP connection through.
//
// A TCP knock is exactly one SYN and nothing else: a non-blocking connect
// on a fresh socket with SO_LINGER 0, closed as soon as connect returns.
// A socket closed in SYN-SENT sends no reset and never retransmits, so a
// knock port that drops or rejects the SYN sees one packet and no
// handshake. (Should a knock port have a listener that answers before the
// close, the kernel completes the handshake and the linger-0 close aborts
// it with a reset; knockc never does that on purpose.) A UDP knock is one
// datagram holding "knockc". Neither needs root: they are ordinary sockets.
//
// Every knock and connection attempt is a socket made and used on the
// calling goroutine, so code running on an OS thread switched into another
// network namespace (setns) knocks from that namespace. Name lookups are the
// exception: Go's resolver works on goroutines of its own, so there pass an
// IP literal, or an Options.Resolver that answers in-process.
package knock
