//go:build linux

package metrics_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/knockc/knockc/internal/testenv"
	"github.com/knockc/knockc/internal/testenv/netns"
)

// scrape GETs /metrics on addr from inside ns.
func scrape(ns *netns.NS, addr string) (string, error) {
	var body string
	err := ns.Do(func() error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(3 * time.Second))
		fmt.Fprintf(c, "GET /metrics HTTP/1.0\r\nHost: %s\r\n\r\n", addr)
		b, err := io.ReadAll(c)
		body = string(b)
		return err
	})
	return body, err
}

// TestMonitorMetricsEndpoint runs knockc monitor --metrics-listen in a
// namespace, knocks an unmanaged door open from a client namespace and
// reads the open, the grant set's fill and its capacity at /metrics.
func TestMonitorMetricsEndpoint(t *testing.T) {
	netns.RequireRoot(t, "nft", "ip")
	dir := t.TempDir()
	bin := testenv.BuildKnockc(t, dir, "metrics-test")
	spec := filepath.Join(dir, "knock.toml")
	if err := os.WriteFile(spec, []byte("[door.web]\nsequence = [\"7100/tcp\", \"7200/tcp\"]\nprotect = [\"8080/tcp\"]\nopen_for = \"30s\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	server := netns.New(t, "kco")
	client, err := netns.Link(server, netns.New(t, "kco"), 1)
	if err != nil {
		t.Fatal(err)
	}
	const addr = "127.0.0.1:9642"
	mon := exec.Command("ip", "netns", "exec", server.Name, bin, "monitor", "--apply", "--log-format", "text", "--metrics-listen", addr, spec)
	stderr, err := mon.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := mon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mon.Process.Kill(); mon.Wait() })
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "monitor ready") {
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("monitor not ready within 10 s")
	}
	for _, port := range []uint16{7100, 7200} {
		if err := client.KnockTCP(client.ServerV4, port); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var body string
	deadline := time.Now().Add(15 * time.Second) // generous: a loaded machine
	for time.Now().Before(deadline) {
		if body, err = scrape(server, addr); err == nil && strings.Contains(body, `knockc_events_total{door="web",event="open"} 1`) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, want := range []string{
		"HTTP/1.0 200 OK",
		`knockc_events_total{door="web",event="open"} 1`,
		`knockc_set_elements{door="web",set="web_grant_v4",role="grant"} 1`,
		`knockc_set_capacity{door="web",set="web_grant_v4",role="grant"} `,
		"process_resident_memory_bytes ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q (err %v):\n%s", want, err, body)
		}
	}
}
