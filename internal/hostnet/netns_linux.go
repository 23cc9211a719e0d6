//go:build linux

package hostnet

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sort"

	"golang.org/x/sys/unix"
)

// In runs fn on an OS thread switched into the network namespace at
// netns: a path such as /proc/PID/ns/net or /run/netns/NAME, a bare name
// under /run/netns, or "" for the caller's own namespace (fn then runs
// directly). It fails when the namespace cannot be entered or left; a
// thread that could not be switched back is never reused.
func In(netns string, fn func() error) error {
	if netns == "" {
		return fn()
	}
	path := netns
	if !filepath.IsAbs(path) {
		path = filepath.Join("/run/netns", netns)
	}
	target, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open network namespace %q: %w", netns, err)
	}
	defer target.Close()
	return InFd(int(target.Fd()), netns, fn)
}

// InFd is In for a namespace the caller holds open at fd; name is only
// for messages. fn runs in a fresh goroutine on a locked OS thread, so
// sockets it opens stay in that namespace for their whole life.
func InFd(fd int, name string, fn func() error) error {
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
			errc <- fmt.Errorf("open current network namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("enter network namespace %q: %w", name, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			poisoned = true
			ferr = errors.Join(ferr, fmt.Errorf("leave network namespace %q: %w", name, err))
		}
		errc <- ferr
	}()
	return <-errc
}

// Interfaces returns the names of the network interfaces in the namespace
// at netns (see In), sorted. It fails when the namespace cannot be entered
// or the kernel cannot be asked.
func Interfaces(netns string) ([]string, error) {
	var names []string
	err := In(netns, func() error {
		ifs, err := net.Interfaces()
		if err != nil {
			return fmt.Errorf("list network interfaces: %w", err)
		}
		for _, i := range ifs {
			names = append(names, i.Name)
		}
		return nil
	})
	sort.Strings(names)
	return names, err
}
