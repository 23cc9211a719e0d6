//go:build linux

package topup_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/internal/monitor"
	"github.com/knockc/knockc/internal/testenv/netns"
	"github.com/knockc/knockc/internal/token"
	"github.com/knockc/knockc/internal/topup"
	"github.com/knockc/knockc/ruleset"
	"github.com/knockc/knockc/ruleset/nftkernel"
)

// TestIntegrationTokenOpensOnce: a valid token opens the door for its
// sender alone and is spent by that very packet; the same token again,
// from the same or another address, opens nothing; an expired token, the
// wrong key's, a truncated one and one with a bit flipped open nothing.
func TestIntegrationTokenOpensOnce(t *testing.T) {
	e := newTokenEnv(t, "")
	for _, f := range []ruleset.Family{ruleset.IPv4, ruleset.IPv6} {
		t.Run(f.String(), func(t *testing.T) {
			e.t = t
			other := netip.MustParseAddr("198.18.1.77")
			if f == ruleset.IPv6 {
				other = netip.MustParseAddr("fd00:6b6e:1::77")
			}
			e.client.AddAddr(t, netip.PrefixFrom(other, other.BitLen()))
			c := 0
			if f == ruleset.IPv6 {
				c = 1
			}
			tok := e.current(c)
			before := e.tokens()
			if _, ok := before[tok]; !ok {
				t.Fatalf("token %d of the current slot is not in the set", c)
			}
			e.send(f, netip.Addr{}, tok[:])
			if !e.waitGrant(f, e.src(f)) {
				t.Fatalf("a valid token did not open the door for its sender %s", e.src(f))
			}
			if got := e.grants(f); !slices.Equal(got, []netip.Addr{e.src(f)}) {
				t.Fatalf("grants after one token = %v, want only the sender %s", got, e.src(f))
			}
			// The spent token is gone and no other went with it; tokens of
			// a slot whose lifetime ended meanwhile may expire, so only
			// those with time to spare are counted.
			after := e.tokens()
			if _, ok := after[tok]; ok {
				t.Errorf("the token is still in the set after it opened the door")
			}
			for k, left := range before {
				if _, ok := after[k]; !ok && k != tok && left > 2*time.Second {
					t.Errorf("a token with %v left vanished when another was spent", left)
				}
			}
			e.ungrant(f)

			flipped := e.current(5)
			flipped[9] ^= 0x10
			cases := map[string][]byte{
				"the same token again":             tok[:],
				"an expired token":                 tokSlice(token.Derive(e.key.Secret, e.key.Params(), token.SlotOf(time.Now().Add(-time.Hour), e.key.Slot), 0)),
				"a token of another door's name":   tokSlice(token.Derive(e.key.Secret, token.Params{Door: "web", Slot: e.key.Slot}, token.SlotOf(time.Now(), e.key.Slot), 2)),
				"a truncated token":                tokSlice(e.current(3))[:15],
				"a token with one bit flipped":     flipped[:],
				"sixteen zero bytes":               make([]byte, 16),
				"a token of a key not in the spec": tokSlice(token.Derive(make([]byte, 32), e.key.Params(), token.SlotOf(time.Now(), e.key.Slot), 0)),
			}
			for what, payload := range cases {
				for _, src := range []netip.Addr{{}, other} {
					e.send(f, src, payload)
				}
				if e.anyGrant(f) {
					t.Errorf("%s opened the door: grants %v", what, e.grants(f))
					e.ungrant(f)
				}
			}
			// Bob's own token opens bob's rule, from the other address.
			bobs := token.Derive(e.keys["ssh"]["bob"].Secret, e.key.Params(), token.SlotOf(time.Now(), e.key.Slot), c)
			e.send(f, other, bobs[:])
			if !e.waitGrant(f, other) || slices.Contains(e.grants(f), e.src(f)) {
				t.Errorf("bob's token from %s: grants %v, want only %s", other, e.grants(f), other)
			}
			e.ungrant(f)
		})
	}
}

func tokSlice(t token.Token) []byte { return t[:] }

// keepState writes a state file whose next token is the current slot's
// first: a client that has kept its state for a while.
func keepState(t testing.TB, path string, k *token.Key) {
	t.Helper()
	line := fmt.Sprintf("knockc-token-state v1 door=%s name=%s next=%d:0\n", k.Door, k.Name, token.SlotOf(time.Now(), k.Slot))
	if err := os.WriteFile(path, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestIntegrationTokenClient: the client's own token choice (state file)
// opens the door 20 times within a minute, copes with a clock 4 minutes
// fast or slow, and a lost state file costs no attempt.
func TestIntegrationTokenClient(t *testing.T) {
	e := newTokenEnv(t, "")
	f := ruleset.IPv4
	state := filepath.Join(e.dir, "alice.key.state")
	open := func(now time.Time, what string) {
		t.Helper()
		tok, p, err := token.Take(state, e.key, now)
		if err != nil {
			t.Fatalf("%s: Take = %v", what, err)
		}
		e.send(f, netip.Addr{}, tok[:])
		if !e.waitGrant(f, e.src(f)) {
			t.Fatalf("%s: token %v did not open the door", what, p)
		}
		e.ungrant(f)
	}
	// A client that has kept its state file for a while; its first knock
	// then uses the current slot's first token. (A client that starts with
	// no state starts a lead past its clock: token.Choose.)
	keepState(t, state, e.key)
	start := time.Now()
	for i := range 20 {
		open(time.Now(), fmt.Sprintf("open %d of 20", i+1))
	}
	if took := time.Since(start); took > time.Minute {
		t.Fatalf("20 opens took %v, more than a minute", took)
	}
	if err := os.Remove(state); err != nil {
		t.Fatal(err)
	}
	open(time.Now(), "first open after losing the state file")
	open(time.Now(), "second open after losing the state file")
	os.Remove(state)
	open(time.Now().Add(4*time.Minute), "a client clock 4 minutes fast")
	os.Remove(state)
	open(time.Now().Add(-4*time.Minute), "a client clock 4 minutes slow")
}

// TestIntegrationTokenSpentAcrossRestarts: a token spent stays spent when
// the monitor restarts (it tops up at start) and when the spec is applied
// again; the monitor's event and the on_open hook name the key.
func TestIntegrationTokenSpentAcrossRestarts(t *testing.T) {
	e := newTokenEnv(t, "")
	f := ruleset.IPv4
	runMonitor := func() (stop func(), events <-chan monitor.Event) {
		ctx, cancel := context.WithCancel(context.Background())
		raw := make(chan nftkernel.LogEvent, 16)
		l, err := nftkernel.ListenLog(ctx, e.server.Path(), e.spec.Table.LogGroup, raw)
		if err != nil {
			t.Fatalf("ListenLog = %v", err)
		}
		seen := make(chan monitor.Event, 16)
		evs := monitor.Events(ctx, raw, nil)
		tee := make(chan monitor.Event, 16)
		go func() {
			for ev := range evs {
				seen <- ev
				tee <- ev
			}
		}()
		// The monitor has its own connection, as the real one does.
		conn, err := nftkernel.Open(e.server.Path())
		if err != nil {
			t.Fatal(err)
		}
		m, err := monitor.New(monitor.Config{Spec: e.spec, Kernel: conn, TopUp: func() error {
			_, err := topup.Run(conn, e.spec, e.keys, time.Now(), false)
			return err
		}})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- m.Run(ctx, tee, nil, l.Lost()) }()
		return func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("monitor Run = %v", err)
			}
			l.Close()
			conn.Close()
		}, seen
	}
	stop, events := runMonitor()
	tok := e.current(0)
	e.send(f, netip.Addr{}, tok[:])
	if !e.waitGrant(f, e.src(f)) {
		t.Fatal("a valid token did not open the door")
	}
	select {
	case ev := <-events:
		if ev.Door != "ssh" || ev.Key != "alice" || ev.Addr != e.src(f) || ev.Seq != compiler.Open {
			t.Errorf("monitor event = %+v, want an open of door ssh by key alice from %s", ev, e.src(f))
		}
	case <-time.After(2 * time.Second):
		t.Error("the monitor saw no event for the token open")
	}
	hook := filepath.Join(e.dir, "hook.log")
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if b, _ := os.ReadFile(hook); len(b) > 0 {
			break
		}
	}
	if b, _ := os.ReadFile(hook); strings.TrimSpace(string(b)) != "ssh alice "+e.src(f).String() {
		t.Errorf("on_open hook wrote %q, want %q (KNOCKC_DOOR KNOCKC_KEY KNOCKC_ADDR)", b, "ssh alice "+e.src(f).String())
	}
	e.ungrant(f)
	stop()
	stop, _ = runMonitor()                    // tops up at start
	e.apply()                                 // and apply tops up too
	e.topUp(time.Now().Add(30 * time.Second)) // a later top-up adds the next slot only
	e.send(f, netip.Addr{}, tok[:])
	if e.anyGrant(f) {
		t.Fatal("a spent token opened the door again after a monitor restart and re-apply")
	}
	fresh := e.current(1)
	e.send(f, netip.Addr{}, fresh[:])
	if !e.waitGrant(f, e.src(f)) {
		t.Fatal("after the restart a fresh token did not open the door")
	}
	stop()
}

// TestIntegrationTokenPortLooksClosed: the token port answers like an
// unused UDP port (ICMP port unreachable) to a valid token, a spent one
// and garbage, over IPv4 and IPv6.
func TestIntegrationTokenPortLooksClosed(t *testing.T) {
	e := newTokenEnv(t, "")
	e.server.Run(t, "sysctl", "-q", "-w", "net.ipv4.icmp_ratelimit=0", "net.ipv6.icmp.ratelimit=0")
	for i, f := range []ruleset.Family{ruleset.IPv4, ruleset.IPv6} {
		tok := e.current(2 + i)
		for _, tc := range []struct {
			what    string
			port    uint16
			payload []byte
		}{
			{"an unused port", 62202, tok[:]},
			{"a valid token", tokenPort, tok[:]},
			{"the spent token", tokenPort, tok[:]},
			{"garbage", tokenPort, []byte("hello")},
		} {
			if got := e.udpAnswer(f, tc.port, tc.payload); got != "refused" {
				t.Errorf("%s: %s to port %d answered %q, want refused (ICMP port unreachable, as a closed port)", f, tc.what, tc.port, got)
			}
		}
	}
}

// udpAnswer sends payload from the client on a connected UDP socket and
// tells how the server answered: "refused" (ICMP port unreachable),
// "silence" or "data".
func (e *tokenEnv) udpAnswer(f ruleset.Family, port uint16, payload []byte) string {
	e.t.Helper()
	var got string
	err := e.client.NS.Do(func() error {
		got = udpProbe(e.dst(f), port, payload)
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return got
}

// floodFor is how long TestIntegrationTokenFlood floods the token port.
const floodFor = 10 * time.Second

// TestIntegrationTokenFlood: a spoofed flood of random 16-byte payloads at
// the token port (20,000 a second for floodFor, from random sources of the
// client's subnet, and 100 a second from the victim's own address) opens
// nothing, takes nothing from the token set but the
// tokens legitimately spent and those that expired, and 99 % or more of
// the legitimate tokens sent meanwhile open the door.
func TestIntegrationTokenFlood(t *testing.T) {
	e := newTokenEnv(t, "")
	f := ruleset.IPv4
	before := e.tokens()
	start := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Besides, 100 forged datagrams a second carry the victim's own
	// address, as a spoofed reset of a strict sequence would: a token
	// door keeps no per-source progress for them to spoil.
	go func() {
		err := e.client.NS.Do(func() error {
			_, err := floodUDP(ctx, netip.PrefixFrom(e.client.V4, 32), e.client.ServerV4, tokenPort, 16, 100, floodFor)
			return err
		})
		if err != nil && ctx.Err() == nil {
			t.Errorf("flood from the victim's address: %v", err)
		}
	}()
	sent := make(chan int, 1)
	go func() {
		var n int
		err := e.client.NS.Do(func() error {
			var err error
			n, err = floodUDP(ctx, netip.MustParsePrefix("198.18.1.0/24"), e.client.ServerV4, tokenPort, 16, 20000, floodFor)
			return err
		})
		if err != nil {
			t.Errorf("flood: %v", err)
		}
		sent <- n
	}()
	state := filepath.Join(e.dir, "alice.key.state")
	keepState(t, state, e.key)
	var spent [][16]byte
	opened, tried := 0, 0
	for time.Since(start) < floodFor-500*time.Millisecond {
		tok, _, err := token.Take(state, e.key, time.Now())
		if err != nil {
			t.Fatalf("Take = %v", err)
		}
		tried++
		spent = append(spent, tok)
		e.send(f, netip.Addr{}, tok[:])
		if e.waitGrant(f, e.src(f)) {
			opened++
		}
		e.ungrant(f)
		// About 30 opens in floodFor: within what a client may spend
		// ahead of its clock (docs/tokens.md), so Take never has to wait.
		time.Sleep(300 * time.Millisecond)
	}
	n := <-sent
	elapsed := time.Since(start)
	// A loaded machine may not keep 20,000/s up; below 15,000/s the test
	// would prove too little.
	if rate := float64(n) / floodFor.Seconds(); rate < 15000 {
		t.Errorf("the flood sent %d packets in %v (%.0f/s), want 20,000/s", n, floodFor, rate)
	}
	if g := e.grants(f); len(g) != 0 {
		t.Errorf("after the flood the grant set holds %v, want nothing (no forged token opens)", g)
	}
	if float64(opened) < 0.99*float64(tried) {
		t.Errorf("%d of %d legitimate tokens opened during the flood, want 99 %%", opened, tried)
	}
	after := e.tokens()
	for k := range after {
		if _, ok := before[k]; !ok {
			t.Fatal("the token set gained an element during the flood")
		}
	}
	spentSet := map[[16]byte]bool{}
	for _, s := range spent {
		spentSet[s] = true
	}
	for k, exp := range before {
		if _, ok := after[k]; ok || spentSet[k] {
			continue
		}
		if exp > elapsed+time.Second {
			t.Errorf("an unspent token that had %v left vanished during the flood", exp)
		}
	}
	t.Logf("flood: %d forged packets in %v (%.0f/s); %d of %d legitimate tokens opened; token set %d → %d", n, floodFor, float64(n)/floodFor.Seconds(), opened, tried, len(before), len(after))
}

// TestIntegrationTokenMarkerGone: the high-water marker is itself a token
// only its key's holder can compute. Sent, it opens the door and leaves the
// set without a mark; a top-up then refuses (ErrNoMark) rather than start
// again from the live window, which could put spent tokens back, and the
// token spent before stays spent.
func TestIntegrationTokenMarkerGone(t *testing.T) {
	e := newTokenEnv(t, "")
	f := ruleset.IPv4
	tok := e.current(0)
	e.send(f, netip.Addr{}, tok[:])
	if !e.waitGrant(f, e.src(f)) {
		t.Fatal("a valid token did not open the door")
	}
	e.ungrant(f)
	m := token.Marker(e.key.Secret, "ssh")
	e.send(f, netip.Addr{}, m[:])
	if !e.waitGrant(f, e.src(f)) {
		t.Fatal("the key's marker, sent as a token, did not open the door")
	}
	e.ungrant(f)
	if _, err := topup.Run(e.conn, e.spec, e.keys, time.Now(), false); !errors.Is(err, topup.ErrNoMark) {
		t.Fatalf("topup.Run without a marker = %v, want ErrNoMark", err)
	}
	e.send(f, netip.Addr{}, tok[:])
	if e.anyGrant(f) {
		t.Fatal("a spent token opened the door again after the marker went")
	}
}

// TestIntegrationTokenTableFlushed: after `nft flush ruleset` (what Debian's
// nftables.service does on start and reload), knockc monitor --apply (its
// Keeper) puts the table back with the tokens it held, in the same tick: a
// token spent before the flush stays spent, and one never spent opens the
// door within a second.
func TestIntegrationTokenTableFlushed(t *testing.T) {
	e := newTokenEnv(t, "")
	netns.RequireRoot(t, "ip", "nft")
	f := ruleset.IPv4
	conn, err := nftkernel.Open(e.server.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	spent, unspent := e.current(0), e.current(1)
	e.send(f, netip.Addr{}, spent[:])
	if !e.waitGrant(f, e.src(f)) {
		t.Fatal("a valid token did not open the door")
	}
	e.ungrant(f)
	keeper := topup.NewKeeper(conn, conn, e.spec, e.keys, nil)
	m, err := monitor.New(monitor.Config{Spec: e.spec, Kernel: conn, Reconcile: 100 * time.Millisecond, Ensure: keeper.Ensure, TopUp: keeper.TopUp})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx, make(chan monitor.Event), nil, nil) }()
	defer func() {
		cancel()
		<-done
	}()
	time.Sleep(300 * time.Millisecond) // a few reconcile ticks: the keeper has read the sets
	e.server.Run(t, "nft", "flush", "ruleset")
	for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if els, err := e.conn.TokenElements(e.spec.Table.Name, compiler.TokenSet("ssh", "alice")); err == nil && len(els) > 0 {
			break
		}
	}
	time.Sleep(50 * time.Millisecond)
	e.send(f, netip.Addr{}, spent[:])
	if e.anyGrant(f) {
		t.Fatal("a token spent before the flush opened the door after the table was put back")
	}
	e.send(f, netip.Addr{}, unspent[:])
	if !e.waitGrant(f, e.src(f)) {
		t.Fatal("an unspent token did not open the door a second after the ruleset was flushed")
	}
}

// TestIntegrationTokenExpires: each token's element times out `lifetime`
// after its slot ends, in the kernel: with 1 s slots and a 1 s lifetime, a
// token installed and never spent stops opening the door about 2 s later,
// while the current slot's token opens it.
func TestIntegrationTokenExpires(t *testing.T) {
	e := newTokenEnv(t, "slot = \"1s\"\nlifetime = \"1s\"\nskew = \"1s\"\nahead = \"3m\"")
	f := ruleset.IPv4
	now := time.Now()
	s0 := token.SlotOf(now, e.key.Slot)
	old := token.Derive(e.key.Secret, e.key.Params(), s0, 0)
	el, err := e.conn.TokenElement(e.spec.Table.Name, compiler.TokenSet("ssh", "alice"), old)
	if err != nil || el == nil {
		t.Fatalf("TokenElement(token of the current slot) = %v, %v; want it installed", el, err)
	}
	want := token.SlotStart(s0+1, e.key.Slot).Add(time.Second).Sub(now)
	if d := el.Expires - want; d < -100*time.Millisecond || d > 100*time.Millisecond {
		t.Errorf("token of the current slot expires in %v, want %v (its slot's end plus lifetime)", el.Expires, want)
	}
	time.Sleep(time.Until(token.SlotStart(s0+1, e.key.Slot).Add(time.Second + 200*time.Millisecond)))
	if el, err := e.conn.TokenElement(e.spec.Table.Name, compiler.TokenSet("ssh", "alice"), old); err != nil || el != nil {
		t.Errorf("TokenElement(expired token) = %+v, %v; want it gone", el, err)
	}
	e.send(f, netip.Addr{}, old[:])
	if e.anyGrant(f) {
		t.Fatal("an expired token opened the door")
	}
	cur := e.current(0)
	e.send(f, netip.Addr{}, cur[:])
	if !e.waitGrant(f, e.src(f)) {
		t.Fatal("the current slot's token did not open the door")
	}
}

// TestIntegrationTokenSetRecreated: changing ahead (or per_slot, lifetime)
// changes the token set's size, so apply recreates it, emptying it. apply
// reads the set first (ReadBefore) and its top-up (RunFrom) puts the
// unspent tokens back and adds new ones only above the old mark: a token
// spent before stays spent, one never spent still opens.
func TestIntegrationTokenSetRecreated(t *testing.T) {
	e := newTokenEnv(t, "")
	f := ruleset.IPv4
	spent, unspent := e.current(0), e.current(1)
	e.send(f, netip.Addr{}, spent[:])
	if !e.waitGrant(f, e.src(f)) {
		t.Fatal("a valid token did not open the door")
	}
	e.ungrant(f)
	before := len(e.tokens())

	path := filepath.Join(e.dir, "knock.toml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(data, []byte("ahead = \"2h\"\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	spec, err := compiler.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	carry := topup.ReadBefore(e.conn, e.spec, e.keys)
	res, err := e.conn.Update(compiler.Compile(spec), nftkernel.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	recreated := false
	for _, c := range res.Plan.Changes {
		recreated = recreated || c.Name == compiler.TokenSet("ssh", "alice")
	}
	if !recreated {
		t.Fatalf("changing ahead did not recreate the token set: plan %s", res.Plan.Summary())
	}
	e.spec = spec
	st, err := topup.RunFrom(e.conn, spec, e.keys, time.Now(), false, carry)
	if err != nil {
		t.Fatal(err)
	}
	if after := len(e.tokens()); after < before+120*8-16 {
		t.Errorf("after recreating the set it holds %d tokens, want the %d unspent ones back and an hour more (%+v)", after, before, st)
	}
	e.send(f, netip.Addr{}, spent[:])
	if e.anyGrant(f) {
		t.Fatal("a token spent before the set was recreated opened the door")
	}
	e.send(f, netip.Addr{}, unspent[:])
	if !e.waitGrant(f, e.src(f)) {
		t.Fatal("an unspent token carried over to the recreated set did not open the door")
	}
}
