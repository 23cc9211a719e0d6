package netns

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// netnsDir is where `ip netns add` mounts named namespaces.
const netnsDir = "/run/netns"

// maxPrefix keeps prefix + "-" + 6 hex digits within 15 characters.
const maxPrefix = 8

// NS is one throwaway named network namespace, created with `ip netns add`
// so that it shows under /run/netns/Name, and removed in the test's cleanup.
type NS struct {
	// Name is the namespace's name for `ip netns` and `ip -n`.
	Name string

	id   string   // random hex suffix of Name, reused in interface names
	file *os.File // open namespace file, kept for Do and Fd
	fd   int
}

// New creates a namespace named prefix plus a random suffix (at most 15
// characters in all), brings its loopback up, and removes it in t.Cleanup
// after killing any process still inside; it fails the test on error.
func New(t testing.TB, prefix string) *NS {
	t.Helper()
	n, err := create(prefix)
	if err != nil {
		t.Fatalf("netns: %v", err)
	}
	t.Cleanup(func() {
		if err := n.remove(); err != nil {
			t.Errorf("netns: %v", err)
		}
	})
	if err := n.setup(); err != nil {
		t.Fatalf("netns: %v", err)
	}
	return n
}

// Create is New for use outside tests (knockc demo): it returns the
// namespace ready to use, and the caller must Remove it. It fails when the
// namespace cannot be made; nothing is left behind then.
func Create(prefix string) (*NS, error) {
	n, err := create(prefix)
	if err != nil {
		return nil, err
	}
	if err := n.setup(); err != nil {
		return nil, errors.Join(err, n.remove())
	}
	return n, nil
}

// Attach returns the existing namespace /run/netns/name (one the test did
// not make, e.g. a booted systemd's) for Do, Exec and Link; the test's
// cleanup closes the handle and leaves the namespace alone. The id used in
// interface names is prefix, at most 6 characters.
func Attach(t testing.TB, name, prefix string) *NS {
	t.Helper()
	n := &NS{Name: name, id: cleanPrefix(prefix), fd: -1}
	if len(n.id) > 6 {
		n.id = n.id[:6]
	}
	f, err := os.Open(n.Path())
	if err != nil {
		t.Fatalf("netns: attach %q: %v", name, err)
	}
	n.file, n.fd = f, int(f.Fd())
	t.Cleanup(func() {
		f.Close()
		n.file, n.fd = nil, -1
	})
	return n
}

// Remove kills what still runs inside n and deletes it, as New's cleanup does.
func (n *NS) Remove() error { return n.remove() }

// create adds a namespace with a fresh name, retrying on a name clash.
func create(prefix string) (*NS, error) {
	prefix = cleanPrefix(prefix)
	for try := 0; ; try++ {
		var b [3]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("create namespace: random name: %w", err)
		}
		id := hex.EncodeToString(b[:])
		name := prefix + "-" + id
		out, err := exec.Command("ip", "netns", "add", name).CombinedOutput()
		if err != nil {
			if try < 5 && bytes.Contains(out, []byte("exists")) {
				continue
			}
			return nil, fmt.Errorf("create namespace %q: %w: %s", name, err, bytes.TrimSpace(out))
		}
		n := &NS{Name: name, id: id, fd: -1}
		f, err := os.Open(n.Path())
		if err != nil {
			_ = exec.Command("ip", "netns", "del", name).Run()
			return nil, fmt.Errorf("create namespace %q: %w", name, err)
		}
		n.file = f
		n.fd = int(f.Fd())
		return n, nil
	}
}

// cleanPrefix keeps the characters safe in file and interface names and
// shortens prefix to maxPrefix.
func cleanPrefix(prefix string) string {
	var b strings.Builder
	for _, r := range prefix {
		if r < 0x80 && (r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') && b.Len() < maxPrefix {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "kn"
	}
	return b.String()
}

// setup brings loopback up and turns off duplicate address detection, so
// that every IPv6 address (link-local ones too) is usable at once.
func (n *NS) setup() error {
	if _, err := n.Exec("ip", "link", "set", "lo", "up"); err != nil {
		return err
	}
	return n.Do(func() error {
		for _, key := range []string{"all", "default"} {
			p := "/proc/sys/net/ipv6/conf/" + key + "/accept_dad"
			if err := os.WriteFile(p, []byte("0\n"), 0o644); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("disable dad: %w", err)
			}
		}
		return nil
	})
}

// remove kills what still runs inside n, closes its file and deletes it.
func (n *NS) remove() error {
	var errs []error
	if out, err := exec.Command("ip", "netns", "pids", n.Name).Output(); err == nil {
		for _, field := range strings.Fields(string(out)) {
			pid, err := strconv.Atoi(field)
			if err != nil || pid <= 1 || pid == os.Getpid() {
				continue
			}
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
				errs = append(errs, fmt.Errorf("remove namespace %q: kill %d: %w", n.Name, pid, err))
			}
		}
	}
	if n.file != nil {
		_ = n.file.Close()
		n.file = nil
		n.fd = -1
	}
	if out, err := exec.Command("ip", "netns", "del", n.Name).CombinedOutput(); err != nil {
		errs = append(errs, fmt.Errorf("remove namespace %q: %w: %s", n.Name, err, bytes.TrimSpace(out)))
	}
	return errors.Join(errs...)
}

// Path returns the namespace's file, /run/netns/Name.
func (n *NS) Path() string { return filepath.Join(netnsDir, n.Name) }

// Fd returns an open descriptor of the namespace file, as
// nftables.WithNetNSFd wants; it stays valid until the test's cleanup
// closes it, and is -1 after that.
func (n *NS) Fd() int { return n.fd }

// Do runs fn in a fresh goroutine on an OS thread switched into n and
// returns fn's error; it fails when the switch into or back out of n fails,
// and turns a panic in fn into an error. Sockets fn opens stay in n for
// their whole life, whichever goroutine uses them later.
func (n *NS) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// A thread that could not be switched back stays locked, so the
		// runtime ends it together with this goroutine.
		poisoned := false
		defer func() {
			if !poisoned {
				runtime.UnlockOSThread()
			}
		}()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- fmt.Errorf("namespace %q: open current namespace: %w", n.Name, err)
			return
		}
		defer orig.Close()
		if n.fd < 0 {
			errc <- fmt.Errorf("namespace %q: already removed", n.Name)
			return
		}
		if err := unix.Setns(n.fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("namespace %q: enter: %w", n.Name, err)
			return
		}
		ferr := call(fn)
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			poisoned = true
			ferr = errors.Join(ferr, fmt.Errorf("namespace %q: switch back: %w", n.Name, err))
		}
		errc <- ferr
	}()
	return <-errc
}

// call runs fn and turns a panic in it into an error.
func call(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return fn()
}

// Exec runs name with args inside n through `ip netns exec` and returns its
// standard output; it fails when the command cannot start or exits non-zero,
// with the command's standard error in the message. Unlike Run it may be
// called from any goroutine.
func (n *NS) Exec(name string, args ...string) (string, error) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("namespace %q: %s: %w: %s",
			n.Name, strings.Join(append([]string{name}, args...), " "), err,
			strings.TrimSpace(stdout.String()+"\n"+stderr.String()))
	}
	return stdout.String(), nil
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
	out := new(syncBuffer)
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

// syncBuffer is a bytes.Buffer safe for a process's two output streams.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
