package netns

import (
	"os/exec"
	"syscall"
	"testing"

	"github.com/knockc/knockc/internal/sandbox"
	"github.com/knockc/knockc/internal/testenv"
)

// NS is one throwaway network namespace of a test: a sandbox.NS (Name, Do,
// Exec, Path, Fd…) whose teardown the test's cleanup runs.
type NS struct {
	*sandbox.NS
}

// New creates a namespace named prefix plus a random suffix (at most 15
// characters in all), brings its loopback up, and removes it in t.Cleanup
// after killing any process still inside; it fails the test on error.
func New(t testing.TB, prefix string) *NS {
	t.Helper()
	n, err := sandbox.Create(prefix)
	if err != nil {
		t.Fatalf("netns: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Remove(); err != nil {
			t.Errorf("netns: %v", err)
		}
	})
	return &NS{n}
}

// Create is sandbox.Create for a test that removes the namespace itself
// (call Remove); it fails when the namespace cannot be made.
func Create(prefix string) (*NS, error) {
	n, err := sandbox.Create(prefix)
	if err != nil {
		return nil, err
	}
	return &NS{n}, nil
}

// Attach returns the existing namespace /run/netns/name (one the test did
// not make, e.g. a booted systemd's) for Do, Exec and Link; the test's
// cleanup closes the handle and leaves the namespace alone. The id used in
// interface names is prefix, at most 6 characters.
func Attach(t testing.TB, name, prefix string) *NS {
	t.Helper()
	n, err := sandbox.Attach(name, prefix)
	if err != nil {
		t.Fatalf("netns: %v", err)
	}
	t.Cleanup(n.Close)
	return &NS{n}
}

// Run runs name with args inside n, like Exec, and returns its standard
// output; it fails the test, showing the command's output, when the command
// fails. Call it from the test's goroutine only.
func (n *NS) Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := n.Exec(name, args...)
	if err != nil {
		t.Fatalf("netns: %v", err)
	}
	return out
}

// Start starts name with args in the background inside n and kills and
// waits for it in t.Cleanup, logging its output when the test failed; it
// fails the test when the command cannot start.
func (n *NS) Start(t testing.TB, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
	out := new(testenv.Buffer)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("netns: namespace %q: start %s: %v", n.Name, name, err)
	}
	t.Cleanup(func() {
		// Kill the whole process group: `ip netns exec` execs the
		// command, but the command may have children of its own.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		if t.Failed() && out.Len() > 0 {
			t.Logf("netns: namespace %q: output of %s:\n%s", n.Name, name, out.String())
		}
	})
	return cmd
}
