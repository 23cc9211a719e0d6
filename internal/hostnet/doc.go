// Package hostnet answers two questions about the host's network that
// knockc's commands ask before and while they gate ports: which of the
// interfaces a spec names do not exist (knocks there would never count),
// and whether anything listens on the port knockc hands unanswered packets
// to (docs/stealth.md). It reads the kernel's own views (rtnetlink through
// package net, sock_diag, /proc/net) in a given network namespace and
// changes nothing.
package hostnet
