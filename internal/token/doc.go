// Package token holds knockc's one-time knock tokens: how a token is
// derived from a key and a time slot, the key file both ends share, which
// tokens apply installs in the kernel (a top-up beyond a high-water mark,
// so a spent token is never installed again), and the client's small state
// file that makes every token it sends a fresh one.
//
// It is pure: no netlink, no sockets. The construction and the reasons for
// it are in docs/tokens.md.
package token
