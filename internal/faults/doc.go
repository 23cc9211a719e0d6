// Package faults holds knockc's fault matrix, a kernel test run in CI: it
// breaks a running knockc in the ways an operator or another tool can
// (flushes, a Debian-like nftables reload, monitor crashes, a spec naming
// an interface that does not exist, concurrent and repeated applies, down)
// while a real client keeps an established session open and a stranger
// tries to connect to the protected port without pause, and prints what
// each fault cost. docs/faults.md explains its rows, columns and setups.
//
// Everything runs in throwaway network namespaces (prefix kcm) with the
// real knockc binary, built once by the test, and the monitor as a
// process, as the shipped unit runs it. The package has no code outside
// its tests.
package faults
