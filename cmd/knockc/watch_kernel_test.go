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

	type result struct {
		code        int
		out, errOut string
	}
	done := make(chan result)
	go func() {
		code, out, errOut := runCLI(t, "watch", "--json", "--interval", "50ms", "--for", "2s", "--netns", server.Path(), classicSpec)
		done <- result{code, out, errOut}
	}()
	time.Sleep(300 * time.Millisecond) // the first read is the baseline
	for _, port := range []uint16{7000, 8000, 9000} {
		if err := client.KnockTCP(client.ServerV4, port); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond) // longer than --interval: every step shows
	}
	server.Run(t, "nft", "delete", "element", "inet", "knockc", "ssh_grant_v4", "{ "+client.V4.String()+" }")
	r := <-done
	if r.code != 0 {
		t.Fatalf("watch = %d, stderr %q", r.code, r.errOut)
	}
	var got []string
	sc := bufio.NewScanner(strings.NewReader(r.out))
	for sc.Scan() {
		var ev view.WatchEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("watch --json line %q: %v", sc.Text(), err)
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
		t.Errorf("watch --json events = %q, want %q\n%s", got, want, r.out)
	}
}
