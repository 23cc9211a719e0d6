// Package stealth is the header-level stealth harness (docs/stealth.md):
// it sends raw probes (TCP SYN, ACK, FIN, NULL, Xmas, SYN-ACK, data; UDP;
// with and without TOS/traffic class and ECN bits; IPv4 options) from a
// client namespace to a set of targets (unused ports, a knock port, a
// protected port), captures every answer with an AF_PACKET socket, and
// compares the answers field by field. A field that also differs between
// two unused ports (IP ID, a random ISN, an IPv6 flow label hashed from
// the ports…) is compared by its shape (zero or not, varying or not)
// instead of its value. It is a test harness and never links into knockc.
package stealth
