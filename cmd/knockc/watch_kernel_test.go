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

// TestKernelWatchFollowsAKnock: knockc watch --json reports each step of a
// real knock, the grant the kernel makes on the last one, and its end.
func TestKernelWatchFollowsAKnock(t *testing.T) {
	netns.RequireRoot(t, "nft")
	server := netns.New(t, "kco")
	client, err := netns.Link(server, netns.New(t, "kco"), 1)
	if err != nil {
		t.Fatalf("netns.Link = %v", err)
	}
	applyClassic(t, server)

	// Read watch's output as it comes, and knock the next step only once
	// watch has reported the last one, so no interval can hide a step.
	pr, pw := io.Pipe()
	done := make(chan int)
	var errw bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		done <- runContext(ctx, []string{"knockc", "watch", "--json", "--interval", "50ms", "--for", "20s", "--netns", server.Path(), classicSpec}, strings.NewReader(""), pw, &errw)
		pw.Close()
	}()
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var out []string
	next := func(what string) {
		t.Helper()
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("watch ended before %s; output so far %q, stderr %q", what, out, errw.String())
			}
			out = append(out, l)
		case <-time.After(10 * time.Second):
			t.Fatalf("no watch event for %s within 10 s; output so far %q", what, out)
		}
	}
	time.Sleep(300 * time.Millisecond) // the first read is the baseline
	if err := client.KnockTCP(client.ServerV4, 7000); err != nil {
		t.Fatal(err)
	}
	next("step 1")
	if err := client.KnockTCP(client.ServerV4, 8000); err != nil {
		t.Fatal(err)
	}
	next("step 2")
	if err := client.KnockTCP(client.ServerV4, 9000); err != nil {
		t.Fatal(err)
	}
	next("close step 1")
	next("grant")
	server.Run(t, "nft", "delete", "element", "inet", "knockc", "ssh_grant_v4", "{ "+client.V4.String()+" }")
	next("grant ended")
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("watch = %d after its context ended, stderr %q; want 0", code, errw.String())
	}
	var got []string
	for _, l := range out {
		var ev view.WatchEvent
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("watch --json line %q: %v", l, err)
		}
		if ev.Door != "ssh" || ev.Addr != client.V4.String() || ev.FormatVersion != view.FormatVersion {
			t.Errorf("watch event %+v, want door ssh, the client's address", ev)
		}
		got = append(got, ev.Event+" "+ev.Sequence)
	}
	// 9000 ends the open sequence and starts the close sequence (9000,
	// 8000, 7000): the kernel counts it for both, and watch shows it.
	want := []string{"step open", "step open", "step close", "grant ", "grant_ended "}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("watch --json events = %q, want %q\n%s", got, want, strings.Join(out, "\n"))
	}
}
