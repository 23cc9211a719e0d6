//go:build linux

package main

import (
	"bufio"
	"encoding/json"
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

	type result struct {
		code        int
		out, errOut string
	}
	done := make(chan result)
	go func() {
		code, out, errOut := runCLI(t, "trace", client.V4.String(), classicSpec, "--json", "--for", "1500ms", "--netns", server.Path())
		done <- result{code, out, errOut}
	}()
	deadline := time.Now().Add(3 * time.Second)
	for !strings.Contains(server.Run(t, "nft", "list", "tables"), "knockc_trace") {
		if time.Now().After(deadline) {
			t.Fatal("trace table never appeared")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := client.KnockTCP(client.ServerV4, 7000); err != nil {
		t.Fatal(err)
	}
	if err := other.KnockTCP(other.ServerV4, 7000); err != nil { // not traced
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if got := client.Connect(client.ServerV4, 22, time.Second); got != netns.Refused {
		t.Errorf("connect to 22 while tracing = %s, want refused (tracing changes no verdict)", got)
	}
	r := <-done
	if r.code != 0 {
		t.Fatalf("trace = %d, stderr %q", r.code, r.errOut)
	}
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(r.out))
	for sc.Scan() {
		var ev view.TraceEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("trace --json line %q: %v", sc.Text(), err)
		}
		if ev.Src != "" && ev.Src != client.V4.String() {
			t.Errorf("traced a packet from %s, want only %s", ev.Src, client.V4)
		}
		lines = append(lines, ev.Chain+" "+ev.Kind+" "+ev.Rule+" "+ev.Verdict)
	}
	all := strings.Join(lines, "\n")
	for _, want := range []string{
		"ssh_open rule door=ssh seq=open step=1 role=advance return",
		// Not granted: the stealth answer (the stack's own reset) for 22.
		"stealth rule door=ssh port=22/tcp role=answer accept",
		"ssh_close return",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("trace lacks %q; got:\n%s", want, all)
		}
	}
	if tables := server.Run(t, "nft", "list", "tables"); strings.Contains(tables, "knockc_trace") {
		t.Errorf("nft list tables after trace = %q, want no knockc_trace", tables)
	}
}
