//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/knockc/knockc/internal/testenv/netns"
	"github.com/knockc/knockc/internal/view"
)

// TestKernelTraceShowsTheRulesAKnockHits: knockc trace ADDR shows, for real
// packets from ADDR only, the knock rule that advanced the sequence and
// the rule that answered the protected port, by door, role and step; its
// table is gone afterwards and the verdicts are those without tracing.
func TestKernelTraceShowsTheRulesAKnockHits(t *testing.T) {
	netns.RequireRoot(t, "nft")
	server := netns.New(t, "kco")
	client, err := netns.Link(server, netns.New(t, "kco"), 1)
	if err != nil {
		t.Fatalf("netns.Link = %v", err)
	}
	other, err := netns.Link(server, netns.New(t, "kco"), 2)
	if err != nil {
		t.Fatalf("netns.Link = %v", err)
	}
	server.Listen(t, 22)
	applyClassic(t, server)
	// A trace table left by a killed trace, tracing another source: the
	// new trace starts without it.
	server.Run(t, "nft", "add table inet knockc_trace; add chain inet knockc_trace trace { type filter hook prerouting priority -350; }; add rule inet knockc_trace trace ip saddr "+other.V4.String()+" meta nftrace set 1")

	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int)
	var errw bytes.Buffer
	go func() {
		done <- runContext(ctx, []string{"knockc", "trace", client.V4.String(), classicSpec, "--json", "--for", "30s", "--netns", server.Path()}, strings.NewReader(""), pw, &errw)
		pw.Close()
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(server.Run(t, "nft", "list", "tables"), "knockc_trace") {
		if time.Now().After(deadline) {
			t.Fatalf("trace table never appeared; stderr %q", errw.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := client.KnockTCP(client.ServerV4, 7000); err != nil {
		t.Fatal(err)
	}
	if err := other.KnockTCP(other.ServerV4, 7000); err != nil { // not traced
		t.Fatal(err)
	}
	if got := client.Connect(client.ServerV4, 22, time.Second); got != netns.Refused {
		t.Errorf("connect to 22 while tracing = %s, want refused (tracing changes no verdict)", got)
	}
	wants := []string{
		"ssh_open rule door=ssh seq=open step=1 role=advance return",
		// Not granted: the stealth answer (the stack's own reset) for 22,
		// from the stealth chain's chain for that port.
		"stealth_port_tcp22 rule door=ssh port=22/tcp role=answer accept",
		"ssh_close return",
	}
	found := map[string]bool{}
	var lines []string
	sc := bufio.NewScanner(pr)
	timeout := time.AfterFunc(10*time.Second, func() { pr.Close() })
	for len(found) < len(wants) && sc.Scan() {
		var ev view.TraceEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("trace --json line %q: %v", sc.Text(), err)
		}
		if ev.Src != "" && ev.Src != client.V4.String() {
			t.Errorf("traced a packet from %s, want only %s", ev.Src, client.V4)
		}
		line := ev.Chain + " " + ev.Kind + " " + ev.Rule + " " + ev.Verdict
		lines = append(lines, line)
		for _, w := range wants {
			if strings.Contains(line, w) {
				found[w] = true
			}
		}
	}
	timeout.Stop()
	cancel()
	go io.Copy(io.Discard, pr) // let trace finish its last write
	if code := <-done; code != 0 {
		t.Errorf("trace = %d, stderr %q", code, errw.String())
	}
	for _, w := range wants {
		if !found[w] {
			t.Errorf("trace lacks %q; got:\n%s", w, strings.Join(lines, "\n"))
		}
	}
	if tables := server.Run(t, "nft", "list", "tables"); strings.Contains(tables, "knockc_trace") {
		t.Errorf("nft list tables after trace = %q, want no knockc_trace", tables)
	}
}
