//go:build linux

package nftkernel

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/knockc/knockc/internal/testenv/netns"
)

// The kernel collects expired elements of a timeout set in batches, so a
// set holds expired elements for a while after their timeout. A dump
// leaves them out, so status (which counts dumped elements) never counts
// an expired one; while the collector runs, a dump can miss live elements
// (the kernel resumes a multi-part dump by a count of elements to skip,
// and the collector removes some in between), so a fill read then is low,
// never high (nft's own listing, a dump too, is as low then). Once the
// expired ones are collected, the dump holds exactly the live elements.
func TestIntegrationElementsLeaveOutExpired(t *testing.T) {
	t.Parallel()
	netns.RequireRoot(t, "ip", "nft")
	ns := netns.New(t, "kcclive")
	const n = 60000
	var b strings.Builder
	b.WriteString("table inet knockc {\n\tset s_v4 {\n\t\ttype ipv4_addr\n\t\tsize 200000\n\t\tflags dynamic,timeout\n\t\ttimeout 1s\n\t\telements = {")
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		// Every other element lives 1 s, the rest a minute.
		fmt.Fprintf(&b, "10.%d.%d.%d timeout %ds", i>>16, (i>>8)&255, i&255, 1+i%2*59)
	}
	b.WriteString(" }\n\t}\n}\n")
	file := filepath.Join(t.TempDir(), "set.nft")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ns.Run(t, "nft", "-f", file)
	conn, err := Open(ns.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	time.Sleep(1200 * time.Millisecond) // half the elements are past their timeout
	var counts []int
	// Dump for 2 s at least, while the collector frees the expired half
	// (it runs about once a second), then until two dumps agree.
	for start, deadline := time.Now(), time.Now().Add(10*time.Second); ; {
		elems, err := conn.Elements("knockc", "s_v4")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range elems {
			if e.Expires <= 0 {
				t.Fatalf("Elements() holds %s with %s left: an expired element", e.Addr, e.Expires)
			}
		}
		if len(elems) > n/2 {
			t.Fatalf("Elements() = %d elements, more than the %d live ones", len(elems), n/2)
		}
		counts = append(counts, len(elems))
		if time.Since(start) > 2*time.Second && len(counts) >= 2 && counts[len(counts)-1] == n/2 && counts[len(counts)-2] == n/2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dumps of the set = %v, never twice the %d live elements", counts, n/2)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("dumps while and after the collector ran: %v", counts)
}
