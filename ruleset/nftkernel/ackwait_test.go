//go:build linux

package nftkernel

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/internal/testenv/netns"
	"github.com/knockc/knockc/ruleset"
)

// A batch the kernel takes longer to commit than the wait for an answer
// is still applied and reported applied: the wait starts once the batch
// is sent (nfnetlink commits it inside the send), not before. With the
// wait counted from before the send, this apply failed with "i/o
// timeout" although the kernel had committed it (seen with 2000 doors
// and the 30 s wait); and the deadline it left on the lasting control
// socket failed the next exchange made after it passed.
func TestIntegrationSlowCommitIsAcknowledged(t *testing.T) {
	netns.RequireRoot(t, "ip", "nft")
	ns := netns.New(t, "kcvack")
	conn, err := Open(ns.Path())
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	defer conn.Close()
	var spec strings.Builder
	for i := range 80 {
		fmt.Fprintf(&spec, "[door.d%d]\nsequence = [\"%d/tcp\", \"%d/udp\", \"%d/tcp\"]\nclose_sequence = [\"%d/tcp\", \"%d/tcp\"]\nprotect = [\"%d/tcp\"]\n",
			i, 10000+3*i, 10001+3*i, 10002+3*i, 40000+2*i, 40001+2*i, 1000+i)
	}
	s, err := compiler.Parse("many.toml", []byte(spec.String()))
	if err != nil {
		t.Fatal(err)
	}
	want := compiler.Compile(s)

	const wait = 100 * time.Millisecond
	defer func(old time.Duration) { ackWait = old }(ackWait)
	ackWait = wait
	start := time.Now()
	if _, err := conn.Update(want, UpdateOptions{}); err != nil {
		t.Fatalf("Update(80 doors) with a %v wait for each answer = %v, want it applied", wait, err)
	}
	took := time.Since(start)
	have, err := conn.Read(want.Name)
	if err != nil {
		t.Fatal(err)
	}
	if p := ruleset.Diff(want, have); !p.Empty() {
		t.Fatalf("Diff after Update =\n%s\nwant no changes", p)
	}
	// The case is only shown if the commit outlasted the wait.
	if took < 3*wait {
		t.Fatalf("Update(80 doors) took %v, not well beyond the %v wait: add doors so that the test shows a slow commit", took, wait)
	}
	// The control socket lasts: a later exchange, after the wait has
	// passed, gets a bound of its own rather than the one left behind.
	time.Sleep(2 * wait)
	if _, err := conn.Generation(); err != nil {
		t.Fatalf("Generation() %v after the apply = %v, want the generation", 2*wait, err)
	}
	t.Logf("80 doors applied in %v with a %v wait for each answer", took, wait)
}
