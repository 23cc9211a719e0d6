//go:build linux

package nftkernel

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/internal/testenv/netns"
	"github.com/knockc/knockc/internal/testenv/nftsim"
	"github.com/knockc/knockc/internal/testenv/specrand"
	"github.com/knockc/knockc/ruleset"
)

// The differential test: random packet traces from a client namespace
// against random compiled specs, each judged by nftsim and by the kernel
// (docs/testing.md). Any disagreement is a bug in one of them.

const (
	// probeTimeout bounds a probe of a protected port: below TCP's 1 s
	// initial retransmission timeout, so a probe is one SYN, and long
	// enough that a client stalled on a loaded machine still reads an
	// answer that came (300 ms once missed a UDP port unreachable).
	probeTimeout = 800 * time.Millisecond
	// guard is how near an element's expiry a decision may come and still
	// be compared: the kernel keeps time in 4 ms ticks and sees a packet a
	// little after the test stamps it, later still on a loaded machine.
	guard = 40 * time.Millisecond
	// tracesPerSpec run at once, each from its own source address.
	tracesPerSpec = 14
)

// sent is one packet of a trace as it left the client: when (since the
// trace began) and what.
type sent struct {
	at time.Duration
	p  nftsim.Packet
}

// trace is a packet sequence from one source, ending in a probe of one
// protected port.
type trace struct {
	kind  string
	door  *compiler.Door // the door the trace knocks on
	src   netip.Addr
	steps []traceStep
	wait  time.Duration // after the last knock, before the probe
	probe compiler.Step
	// tokens are installed for this trace alone before it runs.
	tokens []tokenElem

	// filled in by run
	sent      []sent
	probeAt   time.Duration
	retriedAt time.Duration // of a second UDP probe, when the first timed out
	got       netns.Outcome
	err       error
	t0        time.Time
}

type traceStep struct {
	gap     time.Duration // wait before sending
	proto   ruleset.Proto
	port    uint16
	flags   uint8
	payload []byte // of a UDP datagram; nil: one zero byte (a knock)
}

// tokenElem is a token in a token set.
type tokenElem struct {
	set string
	tok []byte
}

// tokenLifetime is the timeout of the tokens the test installs: far beyond
// any trace.
const tokenLifetime = time.Minute

func (tr *trace) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s trace from %s:", tr.kind, tr.src)
	for _, s := range tr.steps {
		switch {
		case s.proto == ruleset.TCP:
			fmt.Fprintf(&b, " +%v %d/tcp[%#02x]", s.gap, s.port, s.flags)
		case s.payload != nil:
			fmt.Fprintf(&b, " +%v %d/udp[%x]", s.gap, s.port, s.payload)
		default:
			fmt.Fprintf(&b, " +%v %d/udp", s.gap, s.port)
		}
	}
	fmt.Fprintf(&b, ", +%v probe %s", tr.wait, tr.probe)
	return b.String()
}

func TestIntegrationSimAgreesWithKernel(t *testing.T) {
	netns.RequireRoot(t, "ip", "nft", "sysctl")
	seed := seedOf(t)
	r := rand.New(rand.NewPCG(seed, seed^0x6b6e6f636b))
	pair := netns.NewPair(t)
	conn, err := Open(pair.Server.Path())
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	defer conn.Close()
	c := pair.Primary
	// The stack answers UDP knocks on closed ports with ICMP port
	// unreachable, and rate-limits those per peer, nft's reject included:
	// after a UDP scan the probe's reject would look like a drop. Off in
	// the server namespace, so a verdict is what the probe sees.
	if out, err := pair.Server.Exec("sysctl", "-q", "-w", "net.ipv4.icmp_ratemask=0", "net.ipv6.icmp.ratemask=255", "net.ipv4.icmp_ratelimit=0", "net.ipv6.icmp.ratelimit=0"); err != nil {
		t.Fatalf("sysctl (icmp rate limits): %v\n%s", err, out)
	}

	specs := countOfEnv("KNOCKC_TRACE_SPECS", 14)
	sources := addSources(t, pair, specs*tracesPerSpec)
	opts := specrand.Options{
		Quick:      true,
		AllowFrom:  []netip.Prefix{netip.MustParsePrefix("10.77.0.0/16"), netip.MustParsePrefix("fd00:6b6e:1::/64")},
		Interfaces: []string{pair.ServerIf},
	}

	var tried, agreed, undecided, specsRun, rejected, retried, lost int
	kinds := map[string]int{}
	coverage := map[string]int{}
	outcomes := map[netns.Outcome]int{}
	start := time.Now()
	for specsRun < specs {
		cs := specrand.RandomWith(r, opts)
		if file := os.Getenv("KNOCKC_TRACE_SPEC"); file != "" {
			// Replay one spec (a failure prints it) with fresh traces.
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			cs = specrand.Case{Name: file, TOML: string(data)}
		}
		spec, err := compiler.Parse("diff.toml", []byte(cs.TOML))
		if err != nil {
			rejected++
			continue
		}
		tbl := compiler.Compile(spec)
		if err := conn.Apply(tbl, nil); err != nil {
			t.Fatalf("Apply() = %v\nspec:\n%s", err, cs.TOML)
		}
		closeListeners := listen(t, pair.Server, spec)

		traces := make([]*trace, tracesPerSpec)
		for i := range traces {
			traces[i] = randomTrace(r, spec, sources[specsRun*tracesPerSpec+i])
		}
		installTokens(t, pair.Server, tbl.Name, traces)
		icmpLost := icmpOutErrors(t, pair.Server)
		var wg sync.WaitGroup
		for _, tr := range traces {
			wg.Add(1)
			go func() { defer wg.Done(); tr.run(c, pair.ServerIf) }()
		}
		wg.Wait()
		icmpLost = icmpOutErrors(t, pair.Server) - icmpLost
		readAt := time.Now()
		have, err := conn.Read(tbl.Name)
		if err != nil {
			t.Fatalf("Read() = %v", err)
		}
		closeListeners()
		// Specs name their tables differently: one left behind would
		// still gate its ports, which a later spec may protect too.
		if err := conn.Delete(tbl.Name); err != nil {
			t.Fatalf("Delete(%q) = %v", tbl.Name, err)
		}

		for _, tr := range traces {
			if tr.err != nil {
				t.Fatalf("%v: %v", tr, tr.err)
			}
			tried++
			if tr.retriedAt > 0 {
				retried++
			}
			kinds[tr.kind]++
			coverage[coverageOf(tr)]++
			outcomes[tr.got]++
			verdict, sim, err := tr.simulate(tbl, pair.ServerIf)
			if err != nil {
				t.Fatalf("%v\nspec:\n%s", err, cs.TOML)
			}
			if sim.Closest() >= 0 && sim.Closest() < guard {
				undecided++
				continue
			}
			want := outcomeOf(verdict)
			if icmpLost > 0 && tr.probe.Proto == ruleset.UDP && want == netns.Refused && tr.got == netns.Timeout {
				// The kernel counted ICMP errors it failed to send
				// (IcmpOutErrors): on a loaded machine the per-CPU ICMP
				// socket's send buffer fills while its packets wait
				// on the veth. A lost port unreachable is no verdict.
				lost++
				continue
			}
			problems := []string{}
			if tr.got != want {
				problems = append(problems, fmt.Sprintf("probe of %s: kernel %s, nftsim %s (%s)", tr.probe, tr.got, want, verdict))
			}
			sim.Now = readAt.Sub(tr.t0)
			if diff := compareSets(sim, have, tr.src); diff != "" {
				problems = append(problems, diff)
			}
			for _, e := range tr.tokens {
				// A token set's elements read back as 16-byte keys, which
				// Elements takes for IPv6 addresses.
				inKernel := slices.ContainsFunc(have.Set(e.set).Elements, func(el ruleset.Element) bool { return el.Addr == netip.AddrFrom16([16]byte(e.tok)) })
				if inSim := sim.HasKey(e.set, e.tok); inKernel != inSim {
					problems = append(problems, fmt.Sprintf("token %x in %s after the trace: kernel %v, nftsim %v", e.tok, e.set, inKernel, inSim))
				}
			}
			if len(problems) > 0 {
				t.Errorf("%v\n  %s\nspec:\n%s", tr, strings.Join(problems, "\n  "), cs.TOML)
				continue
			}
			agreed++
		}
		specsRun++
		if t.Failed() {
			break
		}
	}
	t.Logf("differential: %d specs (seed %d; %d more refused by check), %d traces tried, %d agreed, %d too close to a timeout to call, %d whose port unreachable the kernel failed to send, %d disagreed, in %v; kinds %v; probes %d open, %d refused, %d timed out, %d UDP probes repeated; traces by source, probe and door %v",
		specsRun, seed, rejected, tried, agreed, undecided, lost, tried-agreed-undecided-lost, time.Since(start).Round(time.Millisecond), kinds,
		outcomes[netns.Open], outcomes[netns.Refused], outcomes[netns.Timeout], retried, coverage)
	if !t.Failed() && (outcomes[netns.Open] == 0 || outcomes[netns.Open] == tried) {
		t.Errorf("%d of %d probes opened: the traces test too little", outcomes[netns.Open], tried)
	}
	if tried > 0 && undecided*4 > tried {
		t.Errorf("%d of %d traces came too close to a timeout to call: the traces test too little", undecided, tried)
	}
}

// coverageOf names what a trace covers: its source's family, its probe's
// protocol and the kind of door it knocks on.
func coverageOf(tr *trace) string {
	fam := "v4"
	if tr.src.Is6() {
		fam = "v6"
	}
	door := "plain"
	switch d := tr.door; {
	case d.Token != nil:
		door = "token"
	case d.Managed() && d.Hold:
		door = "managed-hold"
	case d.Managed():
		door = "managed-drop"
	}
	return fam + "/" + tr.probe.Proto.String() + "/" + door
}

func countOfEnv(name string, def int) int {
	var n int
	if _, err := fmt.Sscan(os.Getenv(name), &n); err == nil && n > 0 {
		return n
	}
	return def
}

// addSources gives the client n IPv4 and n IPv6 addresses of its own
// (10.77.0.0/16, routed to the link on the server, and fd00:6b6e:1::/64,
// the link's own subnet), in one ip -batch, and returns them alternating
// by family.
func addSources(t *testing.T, pair *netns.Pair, n int) []netip.Addr {
	t.Helper()
	var lines []string
	var out []netip.Addr
	for i := range n {
		v4 := netip.AddrFrom4([4]byte{10, 77, byte(1 + i/250), byte(1 + i%250)})
		v6 := netip.AddrFrom16([16]byte{0xfd, 0, 0x6b, 0x6e, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0x77, byte(i >> 8), byte(i)})
		lines = append(lines, fmt.Sprintf("addr add %s/32 dev %s", v4, pair.ClientIf), fmt.Sprintf("addr add %s/128 dev %s nodad", v6, pair.ClientIf))
		if i%2 == 0 {
			out = append(out, v4)
		} else {
			out = append(out, v6)
		}
	}
	file := filepath.Join(t.TempDir(), "addrs")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := pair.Client.Exec("ip", "-batch", file); err != nil {
		t.Fatalf("ip -batch (client addresses): %v\n%s", err, out)
	}
	if out, err := pair.Server.Exec("ip", "route", "add", "10.77.0.0/16", "dev", pair.ServerIf); err != nil {
		t.Fatalf("ip route add 10.77.0.0/16: %v\n%s", err, out)
	}
	return out
}

// listen opens a TCP echo listener on every protected TCP port and a UDP
// echo on every protected UDP port of spec in ns, and returns what closes
// them all.
func listen(t *testing.T, ns *netns.NS, spec *compiler.Spec) func() {
	t.Helper()
	var closers []func()
	for _, d := range spec.Doors {
		for _, p := range d.Protect {
			if p.Proto == ruleset.TCP {
				l := ns.Listen(t, p.Port)
				closers = append(closers, func() { l.Close() })
				continue
			}
			var pc net.PacketConn
			err := ns.Do(func() error {
				var err error
				pc, err = net.ListenPacket("udp", fmt.Sprintf(":%d", p.Port))
				return err
			})
			if err != nil {
				t.Fatalf("listen udp %d: %v", p.Port, err)
			}
			go func() {
				buf := make([]byte, 64)
				for {
					n, from, err := pc.ReadFrom(buf)
					if err != nil {
						return
					}
					pc.WriteTo(buf[:n], from)
				}
			}()
			closers = append(closers, func() { pc.Close() })
		}
	}
	return func() {
		for _, c := range closers {
			c()
		}
	}
}

// outcomeOf is what a connect sees for a verdict on its first packet.
func outcomeOf(v nftsim.Verdict) netns.Outcome {
	switch v {
	case nftsim.Accept:
		return netns.Open
	case nftsim.Reject:
		return netns.Refused
	}
	return netns.Timeout // dropped, or held in a queue nobody reads
}

// run sends the trace from src in the client namespace, stamping each
// packet, then probes the protected port.
func (tr *trace) run(c *netns.Client, serverIf string) {
	dst := c.ServerV4
	if tr.src.Is6() {
		dst = c.ServerV6
	}
	tr.t0 = time.Now()
	next := time.Duration(0)
	for _, s := range tr.steps {
		next += s.gap
		if d := time.Until(tr.t0.Add(next)); d > 0 {
			time.Sleep(d)
		}
		at := time.Since(tr.t0)
		var err error
		payload := s.payload
		switch {
		case s.proto == ruleset.TCP:
			err = c.SendTCPFlags(tr.src, dst, s.port, s.flags)
		case payload != nil:
			err = sendUDP(c, tr.src, dst, s.port, payload)
		default:
			err, payload = c.KnockUDPFrom(tr.src, dst, s.port), []byte{0}
		}
		if err != nil {
			tr.err = err
			return
		}
		tr.sent = append(tr.sent, sent{at, nftsim.Packet{Src: tr.src, Proto: s.proto, DPort: s.port, Flags: s.flags, IIf: serverIf, Payload: payload}})
	}
	time.Sleep(2*time.Millisecond + tr.wait) // the last knock lands first
	tr.probeAt = time.Since(tr.t0)
	if tr.probe.Proto == ruleset.TCP {
		var err error
		tr.got, err = c.TryConnect(tr.src, dst, tr.probe.Port, probeTimeout)
		if tr.got == netns.Error {
			tr.err = err
		}
		return
	}
	tr.got, tr.err = probeUDP(c, tr.src, dst, tr.probe.Port)
	if tr.got == netns.Timeout && tr.err == nil {
		// ICMP is best effort: once in some hundred UDP probes on a
		// loaded machine the port unreachable of a rejected one never
		// came. Probe once more; the repeat is a packet of the trace
		// like any other (nftsim replays it), and a port that really
		// drops stays silent twice.
		tr.retriedAt = time.Since(tr.t0)
		tr.got, tr.err = probeUDP(c, tr.src, dst, tr.probe.Port)
	}
}

// sendUDP sends one datagram holding payload from src to dst:port.
func sendUDP(c *netns.Client, src, dst netip.Addr, port uint16, payload []byte) error {
	return c.NS.Do(func() error {
		conn, err := net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0)), net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, port)))
		if err != nil {
			return err
		}
		defer conn.Close()
		_, err = conn.Write(payload)
		return err
	})
}

// installTokens puts every trace's tokens into the kernel's token sets in
// one nft batch, each with tokenLifetime.
func installTokens(t *testing.T, ns *netns.NS, table string, traces []*trace) {
	t.Helper()
	var b strings.Builder
	for _, tr := range traces {
		for _, e := range tr.tokens {
			fmt.Fprintf(&b, "add element inet %s %s { 0x%x timeout %s }\n", table, e.set, e.tok, ruleset.FormatDuration(tokenLifetime))
		}
	}
	if b.Len() == 0 {
		return
	}
	file := filepath.Join(t.TempDir(), "tokens.nft")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := ns.Exec("nft", "-f", file); err != nil {
		t.Fatalf("nft -f (tokens): %v\n%s\n%s", err, out, b.String())
	}
}

// icmpOutErrors returns how many ICMP and ICMPv6 messages the kernel of
// ns failed to send (OutErrors of /proc/net/snmp and snmp6).
func icmpOutErrors(t *testing.T, ns *netns.NS) int {
	t.Helper()
	out, err := ns.Exec("cat", "/proc/net/snmp", "/proc/net/snmp6")
	if err != nil {
		t.Fatalf("read /proc/net/snmp: %v\n%s", err, out)
	}
	n := 0
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		f := strings.Fields(l)
		switch {
		case len(f) == 2 && f[0] == "Icmp6OutErrors":
			v, _ := strconv.Atoi(f[1])
			n += v
		case strings.HasPrefix(l, "Icmp: ") && i+1 < len(lines) && strings.HasPrefix(lines[i+1], "Icmp: "):
			vals := strings.Fields(lines[i+1])
			for k, name := range f {
				if name == "OutErrors" && k < len(vals) {
					v, _ := strconv.Atoi(vals[k])
					n += v
				}
			}
		}
	}
	return n
}

// probeUDP sends one datagram from src to dst:port and waits for the echo:
// Open when it comes, Refused on ICMP port unreachable, Timeout otherwise.
func probeUDP(c *netns.Client, src, dst netip.Addr, port uint16) (netns.Outcome, error) {
	out := netns.Error
	err := c.NS.Do(func() error {
		conn, err := net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0)), net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, port)))
		if err != nil {
			return err
		}
		defer conn.Close()
		if _, err := conn.Write([]byte("probe")); err != nil {
			return err
		}
		conn.SetReadDeadline(time.Now().Add(probeTimeout))
		buf := make([]byte, 16)
		_, err = conn.Read(buf)
		var ne net.Error
		switch {
		case err == nil:
			out = netns.Open
		case errors.Is(err, syscall.ECONNREFUSED):
			out = netns.Refused
		case errors.As(err, &ne) && ne.Timeout():
			out = netns.Timeout
		default:
			return err
		}
		return nil
	})
	return out, err
}

// simulate replays what the trace sent, at the times it was sent, through
// nftsim, and returns the verdict on the probe.
func (tr *trace) simulate(tbl *ruleset.Table, serverIf string) (nftsim.Verdict, *nftsim.Sim, error) {
	sim := nftsim.New(tbl)
	for _, e := range tr.tokens {
		if err := sim.AddKey(e.set, e.tok, tokenLifetime); err != nil {
			return "", nil, err
		}
	}
	for _, s := range tr.sent {
		sim.Now = s.at
		if _, err := sim.Send(s.p); err != nil {
			return "", nil, err
		}
	}
	sim.Now = tr.probeAt
	probe := nftsim.Packet{Src: tr.src, Proto: tr.probe.Proto, DPort: tr.probe.Port, Flags: 0x02, IIf: serverIf, Payload: []byte("probe")}
	v, err := sim.Send(probe)
	if err != nil || tr.retriedAt == 0 {
		return v, sim, err
	}
	sim.Now = tr.retriedAt
	v, err = sim.Send(probe)
	return v, sim, err
}

// compareSets says how the sets holding src in the kernel differ from
// those nftsim has it in, leaving out elements within guard of expiring.
func compareSets(sim *nftsim.Sim, have *ruleset.Table, src netip.Addr) string {
	var kernel, model []string
	// The stealth sets hold a source only from an invalid packet to the
	// stack's reset for it, which stealth_out (output hook) sees; nftsim
	// runs arriving packets only, so they are left out.
	stealth := func(name string) bool { return strings.HasPrefix(name, "stealth_") }
	for _, s := range have.Sets {
		if stealth(s.Name) {
			continue
		}
		if exp, ok := sim.Expiry(s.Name, src); ok && exp-sim.Now < guard {
			continue
		}
		for _, e := range s.Elements {
			if e.Addr == src && e.Expires >= guard {
				kernel = append(kernel, s.Name)
			}
		}
	}
	for _, name := range sim.Members(src) {
		if exp, _ := sim.Expiry(name, src); exp-sim.Now < guard || stealth(name) {
			continue
		}
		if s := have.Set(name); s != nil && slices.ContainsFunc(s.Elements, func(e ruleset.Element) bool { return e.Addr == src && e.Expires < guard }) {
			continue
		}
		model = append(model, name)
	}
	slices.Sort(kernel)
	slices.Sort(model)
	if slices.Equal(kernel, model) {
		return ""
	}
	return fmt.Sprintf("sets holding the source after the trace: kernel %v, nftsim %v", kernel, model)
}
