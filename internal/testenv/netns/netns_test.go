//go:build linux

package netns

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// helperEnv names the variable that makes TestHelperFailing run for real.
const helperEnv = "NETNS_TEST_HELPER"

const dialTimeout = 2 * time.Second

// nsExists reports whether a namespace called name is mounted.
func nsExists(t *testing.T, name string) bool {
	t.Helper()
	_, err := os.Stat(filepath.Join("/run/netns", name))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stat namespace %q: %v", name, err)
	}
	return err == nil
}

// inode returns the inode of the network namespace file at path.
func inode(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatalf("stat %q: %v", path, err)
	}
	return st.Ino
}

// nftApply loads ruleset into n with `nft -f`.
func nftApply(t *testing.T, n *NS, ruleset string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ruleset.nft")
	if err := os.WriteFile(path, []byte(ruleset), 0o600); err != nil {
		t.Fatal(err)
	}
	n.Run(t, "nft", "-f", path)
}

// counter returns the packets of the named counter in table inet t of n.
func counter(t *testing.T, n *NS, name string) uint64 {
	t.Helper()
	out := n.Run(t, "nft", "-j", "list", "counter", "inet", "t", name)
	var doc struct {
		Nftables []struct {
			Counter *struct {
				Packets uint64 `json:"packets"`
			} `json:"counter"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("parse counter %q: %v\n%s", name, err, out)
	}
	for _, o := range doc.Nftables {
		if o.Counter != nil {
			return o.Counter.Packets
		}
	}
	t.Fatalf("counter %q not in output:\n%s", name, out)
	return 0
}

// wantCounters polls until every named counter reaches its wanted value,
// then fails the test unless each holds exactly that value.
func wantCounters(t *testing.T, n *NS, want map[string]uint64) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		got := make(map[string]uint64, len(want))
		done := true
		for name, w := range want {
			got[name] = counter(t, n, name)
			if got[name] < w {
				done = false
			}
		}
		if done || time.Now().After(deadline) {
			for name, w := range want {
				if got[name] != w {
					t.Errorf("counter %q = %d packets, want %d", name, got[name], w)
				}
			}
			if t.Failed() {
				t.FailNow()
			}
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestNewAndRemove(t *testing.T) {
	RequireRoot(t, "sleep")
	t.Parallel()
	var name string
	var pid int
	t.Run("live", func(t *testing.T) {
		n := New(t, "a-very/long prefix")
		name = n.Name
		if len(name) > 15 || !strings.HasPrefix(name, "averylon-") {
			t.Errorf("name %q: want averylon- plus a suffix, at most 15 characters", name)
		}
		if n.Path() != "/run/netns/"+name || !nsExists(t, name) {
			t.Fatalf("namespace file %q missing", n.Path())
		}
		if n.Fd() < 0 {
			t.Fatalf("Fd() = %d", n.Fd())
		}
		if got := n.Run(t, "ip", "-o", "link", "show", "lo"); !strings.Contains(got, "UP") {
			t.Errorf("loopback not up: %s", got)
		}
		if got := n.Run(t, "cat", "/proc/sys/net/ipv6/conf/default/accept_dad"); strings.TrimSpace(got) != "0" {
			t.Errorf("accept_dad = %q, want 0", got)
		}
		other := New(t, "a-very/long prefix")
		if other.Name == name {
			t.Errorf("two namespaces named %q", name)
		}
		pid = n.Start(t, "sleep", "60").Process.Pid
		waitFor(t, "sleep to enter the namespace", func() bool {
			return strings.Contains(n.Run(t, "ip", "netns", "pids", name), strconv.Itoa(pid))
		})
		if _, err := n.Exec("false"); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("Exec(false) = %v, want an error naming the namespace", err)
		}
	})
	if nsExists(t, name) {
		t.Errorf("namespace %q still exists after its test", name)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process %d started in the namespace still exists: %v", pid, err)
	}
}

func TestDo(t *testing.T) {
	RequireRoot(t)
	t.Parallel()
	n := New(t, "do")
	want := inode(t, n.Path())
	// This goroutine's thread, not /proc/self (the main thread's): the
	// main thread may be running another test's Do at this moment, and
	// a thread is only ever in another namespace while locked to a Do.
	host := inode(t, "/proc/thread-self/ns/net")
	if want == host {
		t.Fatal("new namespace has the host's inode")
	}
	var inside uint64
	if err := n.Do(func() error {
		var st unix.Stat_t
		err := unix.Stat("/proc/thread-self/ns/net", &st)
		inside = st.Ino
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if inside != want {
		t.Errorf("inside Do: namespace inode %d, want %d", inside, want)
	}
	if got := inode(t, "/proc/thread-self/ns/net"); got != host {
		t.Errorf("after Do: caller's thread in namespace %d, want host %d", got, host)
	}
	sentinel := errors.New("sentinel")
	if err := n.Do(func() error { return sentinel }); !errors.Is(err, sentinel) {
		t.Errorf("Do returned %v, want the function's error", err)
	}
	if err := n.Do(func() error { panic("boom") }); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("Do with a panicking function returned %v, want an error", err)
	}
}

func TestPairConnect(t *testing.T) {
	RequireRoot(t, "nft")
	t.Parallel()
	p := NewPair(t)
	c := p.Primary
	if c.NS != p.Client || c.V4 != p.ClientV4 || c.ServerV6 != p.ServerV6 || c.If != p.ClientIf {
		t.Fatalf("Primary %+v does not match the pair %+v", c, p)
	}
	for _, a := range []netip.Addr{p.ServerV4, p.ClientV4, p.ServerV6, p.ClientV6} {
		if !a.IsValid() {
			t.Fatalf("pair has an invalid address: %+v", p)
		}
	}
	ln := p.Server.Listen(t, 9000)
	nftApply(t, p.Server, `table inet t {
	chain input {
		type filter hook input priority 0; policy accept;
		tcp dport 9002 drop
	}
}`)
	for _, dst := range []netip.Addr{p.ServerV4, p.ServerV6} {
		if got, err := c.TryConnect(netip.Addr{}, dst, 9000, dialTimeout); got != Open {
			t.Errorf("connect %s port 9000 with a listener: %v (%v), want open", dst, got, err)
		}
		if got, err := c.TryConnect(netip.Addr{}, dst, 9001, dialTimeout); got != Refused {
			t.Errorf("connect %s port 9001 without a listener: %v (%v), want refused", dst, got, err)
		}
		if got, err := c.TryConnect(netip.Addr{}, dst, 9002, 300*time.Millisecond); got != Timeout {
			t.Errorf("connect %s port 9002 dropped by nft: %v (%v), want timeout", dst, got, err)
		}
		conn, err := c.Dial(dst, 9000, dialTimeout)
		if err != nil {
			t.Fatal(err)
		}
		msg := []byte("hello " + dst.String())
		if _, err := conn.Write(msg); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(dialTimeout))
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(conn, got); err != nil || !bytes.Equal(got, msg) {
			t.Errorf("echo over %s: got %q, %v; want %q", dst, got, err, msg)
		}
		_ = conn.Close()
	}
	waitFor(t, "4 accepted connections", func() bool { return ln.Accepted() >= 4 })
	if got := ln.Accepted(); got != 4 {
		t.Errorf("Accepted() = %d, want 4", got)
	}
	if got := c.Connect(p.ServerV4, 9000, dialTimeout); got != Open {
		t.Errorf("Connect = %v, want open", got)
	}
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	if got := c.Connect(p.ServerV4, 9000, dialTimeout); got != Refused {
		t.Errorf("Connect after Close = %v, want refused", got)
	}
}

func TestKnockCounts(t *testing.T) {
	RequireRoot(t, "nft")
	t.Parallel()
	p := NewPair(t)
	nftApply(t, p.Server, `table inet t {
	counter syn4 {}
	counter syn6 {}
	counter tcp4 {}
	counter ack4 {}
	counter synack6 {}
	counter fin4 {}
	counter udp4 {}
	counter udp6 {}
	chain input {
		type filter hook input priority 0; policy accept;
		meta nfproto ipv4 tcp dport 7000 tcp flags & (syn | ack) == syn counter name "syn4"
		meta nfproto ipv6 tcp dport 7000 tcp flags & (syn | ack) == syn counter name "syn6"
		meta nfproto ipv4 tcp dport 7000 counter name "tcp4"
		meta nfproto ipv4 tcp dport 7000 tcp flags == ack counter name "ack4"
		meta nfproto ipv6 tcp dport 7000 tcp flags == syn | ack counter name "synack6"
		meta nfproto ipv4 tcp dport 7000 tcp flags == fin counter name "fin4"
		meta nfproto ipv4 udp dport 7001 counter name "udp4"
		meta nfproto ipv6 udp dport 7001 counter name "udp6"
		tcp dport 7000 drop
	}
}`)
	c := p.Primary
	if err := c.KnockTCP(p.ServerV4, 7000); err != nil {
		t.Fatal(err)
	}
	if err := c.KnockTCP(p.ServerV6, 7000); err != nil {
		t.Fatal(err)
	}
	wantCounters(t, p.Server, map[string]uint64{"syn4": 1, "syn6": 1, "tcp4": 1})

	if err := c.KnockUDP(p.ServerV4, 7001); err != nil {
		t.Fatal(err)
	}
	if err := c.KnockUDP(p.ServerV6, 7001); err != nil {
		t.Fatal(err)
	}
	wantCounters(t, p.Server, map[string]uint64{"udp4": 1, "udp6": 1})

	// Raw segments: wrong flags must not count as a SYN, and the
	// checksum must be right or the counters would not see them at all
	// (nft counts before TCP drops a bad checksum, so also check the
	// server's TCP stack, which answers a valid stray ACK with a reset).
	if err := c.SendTCPFlags(netip.Addr{}, p.ServerV4, 7000, ACK); err != nil {
		t.Fatal(err)
	}
	if err := c.SendTCPFlags(p.ClientV6, p.ServerV6, 7000, SYN|ACK); err != nil {
		t.Fatal(err)
	}
	if err := c.SendTCPFlags(p.ClientV4, p.ServerV4, 7000, FIN); err != nil {
		t.Fatal(err)
	}
	wantCounters(t, p.Server, map[string]uint64{
		"syn4": 1, "syn6": 1, "tcp4": 3, "ack4": 1, "synack6": 1, "fin4": 1,
	})
	if err := c.SendTCPFlags(netip.Addr{}, p.ServerV6, 7000, SYN); err != nil {
		t.Fatal(err)
	}
	wantCounters(t, p.Server, map[string]uint64{"syn6": 2})

	// A SYN that gets no answer (the port drops it, as knock ports do) is
	// retransmitted after about a second unless its socket is gone; the
	// knock closes its socket at once, so the counts must not move.
	time.Sleep(1200 * time.Millisecond)
	wantCounters(t, p.Server, map[string]uint64{
		"syn4": 1, "syn6": 2, "tcp4": 3, "ack4": 1, "synack6": 1, "fin4": 1, "udp4": 1, "udp6": 1,
	})
}

func TestChecksumValid(t *testing.T) {
	RequireRoot(t, "nft")
	t.Parallel()
	p := NewPair(t)
	// The server's TCP stack answers a segment with a valid checksum and
	// no matching socket with a reset, and drops one with a bad checksum
	// silently; count the resets it sends.
	nftApply(t, p.Server, `table inet t {
	counter rst4 {}
	counter rst6 {}
	chain output {
		type filter hook output priority 0; policy accept;
		meta nfproto ipv4 tcp sport 7000 tcp flags & rst == rst counter name "rst4"
		meta nfproto ipv6 tcp sport 7000 tcp flags & rst == rst counter name "rst6"
	}
}`)
	for _, dst := range []netip.Addr{p.ServerV4, p.ServerV6} {
		if err := p.Primary.SendTCPFlags(netip.Addr{}, dst, 7000, ACK); err != nil {
			t.Fatal(err)
		}
	}
	wantCounters(t, p.Server, map[string]uint64{"rst4": 1, "rst6": 1})
}

func TestAddClient(t *testing.T) {
	RequireRoot(t, "nft")
	t.Parallel()
	p := NewPair(t)
	ln := p.Server.Listen(t, 0)
	second := p.AddClient(t)
	first := p.Primary
	if second.NS == first.NS || second.If == first.If || second.ServerIf == first.ServerIf {
		t.Errorf("second client shares a namespace or interface with the first: %+v %+v", first, second)
	}
	seen := map[netip.Addr]bool{}
	for _, a := range []netip.Addr{first.V4, first.V6, first.ServerV4, first.ServerV6, second.V4, second.V6, second.ServerV4, second.ServerV6} {
		if !a.IsValid() || seen[a] {
			t.Errorf("address %v invalid or used twice", a)
		}
		seen[a] = true
	}

	extra4 := netip.MustParsePrefix("198.19.7.7/32")
	extra6 := netip.MustParsePrefix("fd00:6b6e:ff::7/128")
	first.AddAddr(t, extra4)
	first.AddAddr(t, extra6)
	nftApply(t, p.Server, fmt.Sprintf(`table inet t {
	counter first4 {}
	counter first6 {}
	counter second4 {}
	counter second6 {}
	counter extra4 {}
	counter extra6 {}
	chain input {
		type filter hook input priority 0; policy accept;
		tcp dport 7000 ip saddr %s counter name "first4"
		tcp dport 7000 ip6 saddr %s counter name "first6"
		tcp dport 7000 ip saddr %s counter name "second4"
		tcp dport 7000 ip6 saddr %s counter name "second6"
		tcp dport 7000 ip saddr %s counter name "extra4"
		tcp dport 7000 ip6 saddr %s counter name "extra6"
	}
}`, first.V4, first.V6, second.V4, second.V6, extra4.Addr(), extra6.Addr()))

	for _, k := range []struct {
		c        *Client
		src, dst netip.Addr
	}{
		{first, netip.Addr{}, first.ServerV4},
		{first, netip.Addr{}, first.ServerV6},
		{second, netip.Addr{}, second.ServerV4},
		{second, netip.Addr{}, second.ServerV6},
		{first, extra4.Addr(), first.ServerV4},
		{first, extra6.Addr(), first.ServerV6},
	} {
		if err := k.c.KnockTCPFrom(k.src, k.dst, 7000); err != nil {
			t.Fatal(err)
		}
	}
	wantCounters(t, p.Server, map[string]uint64{
		"first4": 1, "first6": 1, "second4": 1, "second6": 1, "extra4": 1, "extra6": 1,
	})

	for _, k := range []struct {
		c        *Client
		src, dst netip.Addr
	}{
		{second, netip.Addr{}, second.ServerV4},
		{second, netip.Addr{}, second.ServerV6},
		{first, extra4.Addr(), first.ServerV4},
		{first, extra6.Addr(), first.ServerV6},
	} {
		if got, err := k.c.TryConnect(k.src, k.dst, ln.Port(), dialTimeout); got != Open {
			t.Errorf("connect from %q %v to %s: %v (%v), want open", k.c.NS.Name, k.src, k.dst, got, err)
		}
	}
	if err := first.KnockTCPFrom(second.V4, first.ServerV4, 7000); err == nil {
		t.Error("knock from another client's address succeeded, want a bind error")
	}
}

// TestHelperFailing is run by TestCleanupOnFailure in a child process: it
// creates a namespace with a process inside, prints both, and then fails
// the way helperEnv says.
func TestHelperFailing(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		t.Skip("only run as a child of TestCleanupOnFailure")
	}
	n := New(t, "fail")
	pid := n.Start(t, "sleep", "60").Process.Pid
	fmt.Printf("NS=%s PID=%d\n", n.Name, pid)
	switch mode {
	case "fatal":
		t.Fatal("failing on purpose")
	case "panic":
		panic("panicking on purpose")
	}
}

func TestCleanupOnFailure(t *testing.T) {
	RequireRoot(t, "sleep")
	t.Parallel()
	for _, mode := range []string{"fatal", "panic"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperFailing$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), helperEnv+"="+mode)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("child did not fail: %v\n%s", err, out)
			}
			var name string
			var pid int
			sc := bufio.NewScanner(bytes.NewReader(out))
			for sc.Scan() {
				if _, err := fmt.Sscanf(sc.Text(), "NS=%s PID=%d", &name, &pid); err == nil {
					break
				}
			}
			if name == "" {
				t.Fatalf("child printed no namespace:\n%s", out)
			}
			if nsExists(t, name) {
				_ = exec.Command("ip", "netns", "del", name).Run()
				t.Errorf("namespace %q outlived the child's %s:\n%s", name, mode, out)
			}
			if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("process %d outlived the child's %s: %v", pid, mode, err)
			}
		})
	}
}
