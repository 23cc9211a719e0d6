//go:build linux

package nftkernel

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/internal/knock"
	"github.com/knockc/knockc/internal/testenv/flood"
	"github.com/knockc/knockc/internal/testenv/netns"
	"github.com/knockc/knockc/ruleset"
)

// BenchmarkFloodLegitKnocks is the flood target of docs/design.md: while a third
// namespace floods the knock ports with spoofed SYNs (20k/s for 10 s), a
// real client knocks the classic door again and again; it reports the share
// of its knocks that opened the door and the most elements any step set
// held against that set's declared size. Run it with -benchtime=1x.
//
// The knocker uses knockc's client with its default delay between knocks:
// knocks sent back to back can be reordered under load (the sender's
// thread moves between CPUs, each with its own backlog), which breaks a
// strict sequence; with the delay, they arrive in order.
func BenchmarkFloodLegitKnocks(b *testing.B) {
	netns.RequireRoot(b, "ip", "nft")
	b.Run("flood=knock-ports", func(b *testing.B) { benchFlood(b, []uint16{7000, 8000, 9000}) })
	b.Run("flood=other-port", func(b *testing.B) { benchFlood(b, []uint16{9999}) })
}

func benchFlood(b *testing.B, floodPorts []uint16) {
	const rate, dur = 20000, 10 * time.Second
	for i := 0; i < b.N; i++ {
		pair := netns.NewPair(b)
		flooder := pair.AddClient(b)
		conn, err := Open(pair.Server.Path())
		if err != nil {
			b.Fatal(err)
		}
		spec, err := compiler.Parse("flood.toml", []byte(`[door.ssh]
sequence     = ["7000/tcp", "8000/tcp", "9000/tcp"]
close_sequence = ["9000/tcp", "8000/tcp", "7000/tcp"]
protect      = ["22/tcp"]
step_timeout = "5s"
seq_timeout  = "8s"
`))
		if err != nil {
			b.Fatal(err)
		}
		want := compiler.Compile(spec)
		if err := conn.Apply(want, nil); err != nil {
			b.Fatal(err)
		}
		pair.Server.Listen(b, 22)

		me := pair.Primary
		door := spec.Doors[0]
		open, closeSeq := door.Sequence, door.CloseSequence

		ctx, cancel := context.WithCancel(context.Background())
		floodStart := time.Now()
		floodDone := make(chan int)
		go func() {
			var n int
			flooder.NS.Do(func() error {
				n, _ = flood.SYN(ctx, netip.MustParsePrefix("10.128.0.0/9"), flooder.ServerV4, floodPorts, rate, dur)
				return nil
			})
			floodDone <- n
		}()
		time.Sleep(time.Second) // let the flood fill the sets first
		b.ResetTimer()
		tries, opened := 0, 0
		peak := map[string]int{}
		for start := time.Now(); time.Since(start) < dur-1500*time.Millisecond; {
			tries++
			// knockc's own client, as a user runs it: with its default
			// delay between knocks, which keeps them in order.
			if err := me.NS.Do(func() error { return knock.KnockAddr(ctx, me.ServerV4, open, knock.Options{Delay: knock.DefaultDelay}) }); err != nil {
				b.Fatal(err)
			}
			if me.Connect(me.ServerV4, 22, time.Second) == netns.Open {
				opened++
			} else {
				var in []string
				for _, set := range []string{"ssh_grant_v4", "ssh_open_win_v4", "ssh_open_s1_v4", "ssh_open_s2_v4"} {
					elems, _ := conn.Elements(want.Name, set)
					for _, e := range elems {
						if e.Addr == me.V4 {
							in = append(in, fmt.Sprintf("%s(%s left)", set, e.Expires))
						}
					}
				}
				b.Logf("knock %d failed at %s: knocker is in %v", tries, time.Since(floodStart).Round(time.Millisecond), in)
			}
			if err := me.NS.Do(func() error {
				return knock.KnockAddr(ctx, me.ServerV4, closeSeq, knock.Options{Delay: knock.DefaultDelay})
			}); err != nil {
				b.Fatal(err)
			}
			if tries%10 == 0 {
				recordPeaks(b, conn, want, peak)
			}
		}
		b.StopTimer()
		recordPeaks(b, conn, want, peak)
		cancel()
		sent := <-floodDone
		conn.Close()
		b.ReportMetric(100*float64(opened)/float64(tries), "%opened")
		b.ReportMetric(float64(tries), "knocks")
		b.ReportMetric(float64(sent)/dur.Seconds(), "flood-pps")
		for _, s := range want.Sets {
			if n := peak[s.Name]; n > 0 {
				b.Logf("set %-18s peak %7d elements of %7d (%.0f%%)", s.Name, n, s.Size, 100*float64(n)/float64(s.Size))
				if n > int(s.Size) {
					b.Errorf("set %s held %d elements, more than its size %d", s.Name, n, s.Size)
				}
			}
		}
		if opened*100 < tries*99 {
			b.Errorf("only %d of %d legitimate knocks opened the door under the flood, want ≥ 99%%", opened, tries)
		}
	}
}

// recordPeaks notes the largest element count seen in each set.
func recordPeaks(b *testing.B, conn *Conn, t *ruleset.Table, peak map[string]int) {
	for _, s := range t.Sets {
		elems, err := conn.Elements(t.Name, s.Name)
		if err != nil {
			b.Fatal(err)
		}
		peak[s.Name] = max(peak[s.Name], len(elems))
	}
}
