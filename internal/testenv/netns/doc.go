// Package netns is the test harness for kernel tests that need real
// packets: internal/sandbox's throwaway network namespaces, veth pairs,
// knocks and connects, with constructors that take a testing.TB, fail the
// test on error and register their own teardown with t.Cleanup (which
// also runs when the test calls t.Fatal or panics). NS and Client embed
// sandbox.NS and sandbox.Client, so every method of those works here too.
//
// A test binary killed from outside (SIGKILL, or the -timeout panic, which
// skips cleanups) leaves its namespaces behind; `ip netns list` shows them
// and `ip netns del NAME` removes them.
//
// Tests call RequireRoot first: it skips them when not root, except under
// CI=true, where a missing privilege or tool is a failure.
package netns
