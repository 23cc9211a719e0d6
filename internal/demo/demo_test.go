//go:build linux

package demo

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/knockc/knockc/internal/testenv/netns"
)

// demoNamespaces lists the namespaces a demo may have left behind.
func demoNamespaces(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatalf("ip netns list: %v", err)
	}
	var names []string
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) > 0 && strings.HasPrefix(f[0], "kcdemo") {
			names = append(names, f[0])
		}
	}
	return names
}

func TestDemoRunsToTheEndAndCleansUp(t *testing.T) {
	netns.RequireRoot(t, "ip", "nft")
	before := demoNamespaces(t)
	var out bytes.Buffer
	if err := Run(context.Background(), &out); err != nil {
		t.Fatalf("Run() = %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"22/tcp  refused  protected",
		"Every port answers alike",
		"from the knocker   open",
		"from the stranger  refused",
		"knockc status: door ssh granted 198.18.1.2",
		"port 22 from the knocker: refused",
		"Removed the namespaces",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
	if after := demoNamespaces(t); len(after) != len(before) {
		t.Fatalf("namespaces after the demo = %v, before = %v", after, before)
	}
}

// cancelOn cancels a context once the text written to it contains marker:
// an interrupt at a chosen point of the demo.
type cancelOn struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	marker string
	cancel context.CancelFunc
}

func (c *cancelOn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.Write(p)
	if strings.Contains(c.buf.String(), c.marker) {
		c.cancel()
	}
	return len(p), nil
}

func TestDemoInterruptedCleansUp(t *testing.T) {
	netns.RequireRoot(t, "ip", "nft")
	before := demoNamespaces(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &cancelOn{marker: "knocks 7000/tcp", cancel: cancel}
	err := Run(ctx, w)
	if err == nil || !strings.Contains(err.Error(), "demo interrupted") {
		t.Fatalf("Run(interrupted) = %v, want an interrupted error\n%s", err, w.buf.String())
	}
	if after := demoNamespaces(t); len(after) != len(before) {
		t.Fatalf("namespaces after an interrupted demo = %v, before = %v", after, before)
	}
}

func TestDemoWithoutRootSaysSo(t *testing.T) {
	if os.Geteuid() == 0 {
		netns.RequireRoot(t, "setpriv") // util-linux; fails under CI=true when missing
		cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", os.Args[0], "-test.run=^TestDemoWithoutRootSaysSo$")
		cmd.Env = append(os.Environ(), "KNOCKC_DEMO_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("demo as nobody: %v\n%s", err, out)
		}
		return
	}
	if os.Getenv("KNOCKC_DEMO_CHILD") != "1" {
		t.Skip("runs as a child of the root test")
	}
	if err := Run(context.Background(), &bytes.Buffer{}); err != ErrNeedRoot {
		t.Fatalf("Run() as non-root = %v, want ErrNeedRoot", err)
	}
}
