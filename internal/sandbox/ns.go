package sandbox

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/knockc/knockc/internal/hostnet"
)

// netnsDir is where `ip netns add` mounts named namespaces.
const netnsDir = "/run/netns"

// maxPrefix keeps prefix + "-" + 6 hex digits within 15 characters.
const maxPrefix = 8

// NS is one named network namespace: a throwaway one, created with `ip
// netns add` so that it shows under /run/netns/Name and deleted by Remove,
// or an existing one opened with Attach and released by Close.
type NS struct {
	// Name is the namespace's name for `ip netns` and `ip -n`.
	Name string

	id   string   // random hex suffix of Name, reused in interface names
	file *os.File // open namespace file, kept for Do and Fd
	fd   int
}

// Create makes a namespace named prefix plus a random suffix (at most 15
// characters in all) with its loopback up, ready to use; the caller must
// Remove it. It fails when the namespace cannot be made; nothing is left
// behind then.
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

// Attach opens the existing namespace /run/netns/name (one the caller did
// not make, e.g. a booted systemd's) for Do, Exec and Link; Close releases
// the handle and leaves the namespace alone. The id used in interface
// names is prefix, at most 6 characters. It fails when the namespace
// cannot be opened.
func Attach(name, prefix string) (*NS, error) {
	n := &NS{Name: name, id: cleanPrefix(prefix), fd: -1}
	if len(n.id) > 6 {
		n.id = n.id[:6]
	}
	f, err := os.Open(n.Path())
	if err != nil {
		return nil, fmt.Errorf("attach %q: %w", name, err)
	}
	n.file, n.fd = f, int(f.Fd())
	return n, nil
}

// Close releases n's handle without deleting the namespace; Do fails after
// it. It is what Remove does last, for namespaces opened with Attach.
func (n *NS) Close() {
	if n.file != nil {
		_ = n.file.Close()
		n.file = nil
		n.fd = -1
	}
}

// Remove kills what still runs inside n, closes its handle and deletes it.
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
	n.Close()
	if out, err := exec.Command("ip", "netns", "del", n.Name).CombinedOutput(); err != nil {
		errs = append(errs, fmt.Errorf("remove namespace %q: %w: %s", n.Name, err, bytes.TrimSpace(out)))
	}
	return errors.Join(errs...)
}

// Path returns the namespace's file, /run/netns/Name.
func (n *NS) Path() string { return filepath.Join(netnsDir, n.Name) }

// Fd returns an open descriptor of the namespace file, as
// nftables.WithNetNSFd wants; it stays valid until Remove or Close, and is
// -1 after that.
func (n *NS) Fd() int { return n.fd }

// Do runs fn in a fresh goroutine on an OS thread switched into n and
// returns fn's error; it fails when the switch into or back out of n fails,
// and turns a panic in fn into an error. Sockets fn opens stay in n for
// their whole life, whichever goroutine uses them later.
func (n *NS) Do(fn func() error) error {
	if n.fd < 0 {
		return fmt.Errorf("namespace %q: already removed", n.Name)
	}
	return hostnet.InFd(n.fd, n.Name, func() error { return call(fn) })
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
// with the command's standard error in the message. It may be called from
// any goroutine.
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
