// Package netns is a harness for kernel tests that need real packets (and
// for knockc demo, through Create, Link and Remove):
// it creates throwaway network namespaces, joins them with veth pairs and
// sends TCP, UDP and hand-made TCP segments between them.
//
// Everything happens inside namespaces the harness creates and removes
// itself: veth pairs are created directly inside the server namespace with
// their peer moved into the client namespace at creation, commands run
// through `ip -n NAME` or `ip netns exec NAME`, and Go code runs through
// NS.Do on a locked OS thread switched into the namespace. The host's own
// network namespace, its interfaces and its ruleset are never touched, and
// the addresses used (198.18.0.0/15 and fd00:6b6e::/32) exist only inside
// the namespaces.
//
// Every constructor takes a testing.TB, fails the test on error and
// registers its own teardown with t.Cleanup, which also runs when the test
// calls t.Fatal or panics. A test binary killed from outside (SIGKILL, or
// the -timeout panic, which skips cleanups) leaves its namespaces behind;
// `ip netns list` shows them and `ip netns del NAME` removes them.
//
// Tests call RequireRoot first: it skips them when not root, except under
// CI=true, where a missing privilege or tool is a failure.
package netns
