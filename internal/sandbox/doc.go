// Package sandbox makes throwaway network namespaces, joins them with veth
// pairs and sends TCP, UDP and hand-made TCP segments between them. It is
// product code: knockc demo plays the knock flow in it, and the test
// harness internal/testenv/netns wraps it with testing.TB constructors
// that clean up after the test.
//
// Everything happens inside namespaces the caller creates and removes:
// veth pairs are created directly inside the server namespace with their
// peer moved into the client namespace at creation, commands run through
// `ip -n NAME` or `ip netns exec NAME`, and Go code runs through NS.Do on a
// locked OS thread switched into the namespace. The host's own network
// namespace, its interfaces and its ruleset are never touched, and the
// addresses used (198.18.0.0/15 and fd00:6b6e::/32) exist only inside the
// namespaces. A process killed before it calls Remove leaves its
// namespaces behind; `ip netns list` shows them and `ip netns del NAME`
// removes them.
package sandbox
