package compiler_test

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/internal/testenv/nftsim"
	"github.com/knockc/knockc/ruleset"
)

// mustCompile parses src and compiles it.
func mustCompile(t testing.TB, src string) *ruleset.Table {
	t.Helper()
	spec, err := compiler.Parse("knock.toml", []byte(src))
	if err != nil {
		t.Fatalf("Parse(%q) = %v", src, err)
	}
	return compiler.Compile(spec)
}

// setNames returns the names of t's sets, in order.
func setNames(t *ruleset.Table) []string {
	var out []string
	for _, s := range t.Sets {
		out = append(out, s.Name)
	}
	return out
}

// rulesWith returns the rules of chain whose comment contains every part.
func rulesWith(t testing.TB, table *ruleset.Table, chain string, parts ...string) []*ruleset.Rule {
	t.Helper()
	c := table.Chain(chain)
	if c == nil {
		t.Fatalf("no chain %q in\n%s", chain, ruleset.Render(table))
	}
	var out []*ruleset.Rule
	for _, r := range c.Rules {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(r.Comment, p)
		}
		if ok {
			out = append(out, r)
		}
	}
	return out
}

// door returns a one-door spec with the given extra keys.
func door(seq, extra string) string {
	return "[door.ssh]\nsequence = " + seq + "\nprotect = [\"22\"]\n" + extra
}

func TestCompileWindowSet(t *testing.T) {
	tests := []struct {
		name string
		src  string
		n    int // steps
		want bool
	}{
		{"no seq_timeout", door(`["1", "2", "3"]`, ""), 3, false},
		{"seq_timeout equal to the step timeouts", door(`["1", "2", "3"]`, "step_timeout = \"5s\"\nseq_timeout = \"10s\"\n"), 3, false},
		{"seq_timeout above the step timeouts", door(`["1", "2", "3"]`, "seq_timeout = \"1m\"\n"), 3, false},
		{"seq_timeout one grain below the step timeouts", door(`["1", "2", "3"]`, "step_timeout = \"5s\"\nseq_timeout = \"9980ms\"\n"), 3, true},
		{"two steps, seq_timeout below step_timeout", door(`["1", "2"]`, "step_timeout = \"5s\"\nseq_timeout = \"4s\"\n"), 2, true},
		{"one step never needs a window", door(`["1"]`, "seq_timeout = \"100ms\"\n"), 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			table := mustCompile(t, tt.src)
			for _, f := range []ruleset.Family{ruleset.IPv4, ruleset.IPv6} {
				name := compiler.WindowSet("ssh", compiler.Open, f)
				s := table.Set(name)
				if got := s != nil; got != tt.want {
					t.Fatalf("Compile(%q): set %s exists = %v, want %v; sets %v", tt.src, name, got, tt.want, setNames(table))
				}
				if s == nil {
					continue
				}
				spec, _ := compiler.Parse("knock.toml", []byte(tt.src))
				if s.Timeout != spec.Doors[0].SeqTimeout {
					t.Errorf("window set timeout = %v, want seq_timeout %v", s.Timeout, spec.Doors[0].SeqTimeout)
				}
				// Step 1 starts the window; every later step requires it;
				// the last step and the reset remove it.
				var starts, requires int
				for _, r := range table.Chain("ssh_open").Rules {
					for _, st := range r.Stmts {
						switch st := st.(type) {
						case ruleset.SetSAddr:
							if st.Set == name && st.Op != ruleset.OpDelete {
								starts++
								if !strings.Contains(r.Comment, "step=1 role=advance") {
									t.Errorf("rule %q refreshes the window; only step 1 may", r)
								}
							}
						case ruleset.SAddrIn:
							if st.Set == name {
								requires++
							}
						}
					}
				}
				if starts != 1 || requires != tt.n-1 {
					t.Errorf("window %s: started by %d rules, required by %d; want 1 and %d:\n%s", name, starts, requires, tt.n-1, ruleset.Render(table))
				}
			}
		})
	}
}

func TestCompileOneStepSequence(t *testing.T) {
	table := mustCompile(t, door(`["7000/udp"]`, "families = [\"ipv4\"]\n"))
	if got, want := setNames(table), []string{"ssh_grant_v4", "stealth_tcp22_v4"}; !cmp.Equal(got, want) {
		t.Errorf("sets = %v, want %v (a one-step sequence needs no step sets; the stealth set is the protected port's)", got, want)
	}
	got := ruleset.Render(&ruleset.Table{Name: "x", Chains: []*ruleset.Chain{table.Chain("ssh_open")}})
	want := `table inet x {
	chain ssh_open {
		udp dport 7000 update @ssh_grant_v4 { ip saddr } log prefix "knockc open ssh" group 4242 return comment "door=ssh seq=open step=1 role=advance"
	}
}
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("one-step open chain (-want +got):\n%s", diff)
	}
}

func TestCompileNonStrict(t *testing.T) {
	table := mustCompile(t, door(`["1", "2", "3", "4"]`, "strict = false\nfamilies = [\"ipv4\"]\n"))
	chain := table.Chain("ssh_open")
	for _, r := range chain.Rules {
		if strings.Contains(r.Comment, "role=reset") || strings.Contains(r.Comment, "role=repeat") {
			t.Errorf("non-strict door has rule %q", r)
		}
	}
	step1 := rulesWith(t, table, "ssh_open", "step=1 role=advance")
	if len(step1) != 1 {
		t.Fatalf("step 1 rules = %v, want one", step1)
	}
	got := step1[0].String()
	want := `tcp dport 1 tcp flags syn / syn,ack update @knock_mid_v4 { ip saddr } update @ssh_open_s1_v4 { ip saddr } delete @ssh_open_s2_v4 { ip saddr } delete @ssh_open_s3_v4 { ip saddr } return comment "door=ssh seq=open step=1 role=advance"`
	if got != want {
		t.Errorf("non-strict step 1 = %s\nwant               %s", got, want)
	}

	// Strict doors leave the deletes to the reset rules instead.
	strict := mustCompile(t, door(`["1", "2", "3", "4"]`, "families = [\"ipv4\"]\n"))
	step1 = rulesWith(t, strict, "ssh_open", "step=1 role=advance")
	if got, want := step1[0].String(), `tcp dport 1 tcp flags syn / syn,ack update @knock_mid_v4 { ip saddr } update @ssh_open_s1_v4 { ip saddr } return comment "door=ssh seq=open step=1 role=advance"`; got != want {
		t.Errorf("strict step 1 = %s\nwant           %s", got, want)
	}
	if n := len(rulesWith(t, strict, "ssh_open", "role=reset")); n != 1 {
		t.Errorf("strict door: %d reset rules, want 1 (tcp only, ipv4 only)", n)
	}
	if n := len(rulesWith(t, strict, "ssh_open", "role=repeat")); n != 3 {
		t.Errorf("strict door: %d repeat rules, want 3 (steps 1 to 3)", n)
	}
}

func TestCompileSetSizes(t *testing.T) {
	tests := []struct {
		name  string
		extra string
		want  map[string]uint32
	}{
		{"defaults", "", map[string]uint32{
			"ssh_open_s1_v4": 25000 * 5, "ssh_grant_v4": 1024,
		}},
		{"small flood rate gets the minimum", "flood_rate = 10\n", map[string]uint32{
			"ssh_open_s1_v4": 64,
		}},
		{"rate times timeout", "flood_rate = 1000\nstep_timeout = \"1500ms\"\n", map[string]uint32{
			"ssh_open_s1_v4": 1500,
		}},
		{"fractions round up", "flood_rate = 333\nstep_timeout = \"1s\"\nseq_timeout = \"1020ms\"\n", map[string]uint32{
			"ssh_open_s1_v4": 333, "ssh_open_win_v4": 340,
		}},
		{"window sized by seq_timeout", "flood_rate = 100\nstep_timeout = \"10s\"\nseq_timeout = \"15s\"\n", map[string]uint32{
			"ssh_open_s1_v4": 1000, "ssh_open_s2_v4": 1000, "ssh_open_win_v4": 1500,
		}},
		{"largest size", "flood_rate = 1000000\nstep_timeout = \"1h\"\n", map[string]uint32{
			"ssh_open_s1_v4": 1 << 24,
		}},
		{"grant and pending sized by max_grants", "max_grants = 7\nservice = \"ssh\"\n", map[string]uint32{
			"ssh_grant_v4": 7, "ssh_pending_v4": 7, "ssh_grant_v6": 7, "ssh_pending_v6": 7,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			table := mustCompile(t, door(`["1", "2", "3"]`, tt.extra))
			for name, want := range tt.want {
				s := table.Set(name)
				if s == nil {
					t.Errorf("no set %s in %v", name, setNames(table))
					continue
				}
				if s.Size != want {
					t.Errorf("set %s size = %d, want %d", name, s.Size, want)
				}
			}
		})
	}
}

// TestCompileAdvanceEndsInReturn: one packet moves a source at most one
// step, because every rule that advances (or repeats) a sequence returns.
// Reset rules must not return: the packet may still be a first knock.
func TestCompileAdvanceEndsInReturn(t *testing.T) {
	tables := map[string]*ruleset.Table{
		"non-strict":     mustCompile(t, door(`["1", "2", "1"]`, "strict = false\nclose_sequence = [\"3\", \"4\"]\n")),
		"window, mixed":  mustCompile(t, door(`["1", "2/udp", "3"]`, "seq_timeout = \"6s\"\nservice = \"ssh\"\n")),
		"sixteen steps":  mustCompile(t, door(`["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16"]`, "")),
		"two one-steps":  mustCompile(t, door(`["1"]`, "close_sequence = [\"2\"]\n")),
		"allow_from":     mustCompile(t, door(`["1", "2"]`, "allow_from = [\"10.0.0.0/8\"]\n")),
		"ipv6, no close": mustCompile(t, door(`["1", "2", "3"]`, "families = [\"ipv6\"]\n")),
	}
	for name, data := range exampleSpecs(t) {
		tables["example "+name] = compileExample(t, name, data)
	}
	for name, table := range tables {
		t.Run(name, func(t *testing.T) {
			for _, c := range table.Chains {
				if !strings.HasSuffix(c.Name, "_open") && !strings.HasSuffix(c.Name, "_close") {
					continue
				}
				for _, r := range c.Rules {
					last := r.Stmts[len(r.Stmts)-1]
					returns := last == ruleset.Verdict{Kind: ruleset.VerdictReturn}
					switch {
					case strings.Contains(r.Comment, "role=advance"), strings.Contains(r.Comment, "role=repeat"):
						if !returns {
							t.Errorf("chain %s: rule %q does not end in return", c.Name, r)
						}
					case strings.Contains(r.Comment, "role=reset"):
						if returns {
							t.Errorf("chain %s: reset rule %q returns", c.Name, r)
						}
					default:
						t.Errorf("chain %s: rule %q has no known role", c.Name, r)
					}
					// A rule that adds a source to a set (advances it) returns.
					for _, st := range r.Stmts {
						if s, ok := st.(ruleset.SetSAddr); ok && s.Op != ruleset.OpDelete && !returns {
							t.Errorf("chain %s: rule %q advances but does not return", c.Name, r)
						}
					}
				}
				// Rules run last step first: the step numbers of advance
				// rules never increase down the chain.
				prev := 1 << 30
				for _, r := range c.Rules {
					i := strings.Index(r.Comment, "step=")
					if i < 0 || !strings.Contains(r.Comment, "role=advance") {
						continue
					}
					var k int
					if _, err := fmt.Sscanf(r.Comment[i:], "step=%d", &k); err != nil {
						t.Fatalf("rule comment %q: %v", r.Comment, err)
					}
					if k > prev {
						t.Errorf("chain %s: advance of step %d after step %d", c.Name, k, prev)
					}
					prev = k
				}
			}
		})
	}
}

// TestCompileDeterministic: the same spec always gives the same model, so
// re-applying an unchanged spec changes nothing.
func TestCompileDeterministic(t *testing.T) {
	opts := cmp.Options{
		cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
		cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	}
	for name, data := range exampleSpecs(t) {
		t.Run(name, func(t *testing.T) {
			first := compileExample(t, name, data)
			for i := 0; i < 20; i++ {
				again := compileExample(t, name, data)
				if diff := cmp.Diff(first, again, opts); diff != "" {
					t.Fatalf("Compile(%s) differs between runs (-first +again):\n%s", name, diff)
				}
			}
		})
	}
}

// nftName is what nft accepts as a table, set or chain name without quotes.
var nftName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// TestCompileNames: every object name is a valid nft identifier, unique,
// and every set and chain a rule names exists.
func TestCompileNames(t *testing.T) {
	long := strings.Repeat("x", 24)
	tables := map[string]*ruleset.Table{
		"longest names": mustCompile(t, "[door."+long+"]\nsequence = [\"1\", \"2\", \"3\", \"4\", \"5\", \"6\", \"7\", \"8\", \"9\", \"10\", \"11\", \"12\", \"13\", \"14\", \"15\", \"16\"]\n"+
			"close_sequence = [\"17\", \"18\", \"19\", \"20\", \"21\", \"22\", \"23\", \"24\", \"25\", \"26\", \"27\", \"28\", \"29\", \"30\", \"31\", \"32\"]\n"+
			"protect = [\"443\"]\nseq_timeout = \"1s\"\nservice = \"x\"\n[table]\nname = \""+strings.Repeat("k", 32)+"\"\n"),
		"dashed and upper-case door": mustCompile(t, "[door.My-Door]\nsequence = [\"1\", \"2\"]\nprotect = [\"22\"]\n"),
	}
	for name, data := range exampleSpecs(t) {
		tables["example "+name] = compileExample(t, name, data)
	}
	for name, table := range tables {
		t.Run(name, func(t *testing.T) {
			seen := map[string]bool{}
			check := func(kind, n string) {
				if !nftName.MatchString(n) || len(n) > 255 {
					t.Errorf("%s name %q is not a valid nft identifier", kind, n)
				}
				if seen[kind+" "+n] {
					t.Errorf("%s %q defined twice", kind, n)
				}
				seen[kind+" "+n] = true
			}
			check("table", table.Name)
			for _, s := range table.Sets {
				check("set", s.Name)
			}
			for _, c := range table.Chains {
				check("chain", c.Name)
			}
			for _, c := range table.Chains {
				for _, r := range c.Rules {
					if len(r.Comment) > 255 {
						t.Errorf("rule comment %q longer than the kernel's 256-byte userdata", r.Comment)
					}
					for _, st := range r.Stmts {
						var set, chain string
						switch st := st.(type) {
						case ruleset.SAddrIn:
							set = st.Set
						case ruleset.SetSAddr:
							set = st.Set
						case ruleset.Verdict:
							chain = st.Chain
						case ruleset.Log:
							if len(st.Prefix) > 127 {
								t.Errorf("log prefix %q longer than 127 bytes", st.Prefix)
							}
						}
						if set != "" && !seen["set "+set] {
							t.Errorf("rule %q names set %q, which does not exist", r, set)
						}
						if chain != "" && !seen["chain "+chain] {
							t.Errorf("rule %q jumps to chain %q, which does not exist", r, chain)
						}
					}
				}
			}
		})
	}
}

func TestCompileNamesFollowTheDoor(t *testing.T) {
	tests := []struct{ got, want string }{
		{compiler.SeqChain("ssh", compiler.Open), "ssh_open"},
		{compiler.SeqChain("ssh", compiler.Close), "ssh_close"},
		{compiler.GateChain("ssh"), "ssh_gate"},
		{compiler.StepSet("ssh", compiler.Open, 2, ruleset.IPv4), "ssh_open_s2_v4"},
		{compiler.StepSet("web", compiler.Close, 15, ruleset.IPv6), "web_close_s15_v6"},
		{compiler.WindowSet("ssh", compiler.Open, ruleset.IPv6), "ssh_open_win_v6"},
		{compiler.GrantSet("ssh", ruleset.IPv4), "ssh_grant_v4"},
		{compiler.PendingSet("ssh", ruleset.IPv6), "ssh_pending_v6"},
		{compiler.LogPrefix("ssh", compiler.Open), "knockc open ssh"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("name = %q, want %q", tt.got, tt.want)
		}
	}
}

func TestLogPrefixRoundTrip(t *testing.T) {
	for _, d := range []string{"ssh", "a", "web_admin", "door2", strings.Repeat("z", 24)} {
		for _, s := range []compiler.Seq{compiler.Open, compiler.Close} {
			p := compiler.LogPrefix(d, s)
			door, seq, ok := compiler.ParseLogPrefix(p)
			if !ok || door != d || seq != s {
				t.Errorf("ParseLogPrefix(%q) = %q, %q, %v; want %q, %q, true", p, door, seq, ok, d, s)
			}
		}
	}
	for _, p := range []string{
		"",
		"knockc",
		"knockc open",
		"knockc open ",
		"knockc opened ssh",
		"knockc grant ssh",
		"knock open ssh",
		"other open ssh",
		"knockc open ssh extra",
		"knockc open ssh ",
		"knockc  open ssh",
		"xknockc open ssh",
	} {
		if door, seq, ok := compiler.ParseLogPrefix(p); ok {
			t.Errorf("ParseLogPrefix(%q) = %q, %q, true; want false", p, door, seq)
		}
	}
}

// TestCompileDoorsChainOrder: a source mid-sequence goes to doors_all,
// which jumps to every sequence chain in door order, before the gates run
// (docs/design.md, "The ruleset"), so a packet to one door's protected
// port still resets a half-done strict sequence of every door; any other
// source is sent only to the sequences whose first knock is its port
// (docs/cost.md).
func TestCompileDoorsChainOrder(t *testing.T) {
	table := mustCompile(t, "[door.a]\nsequence = [\"6000\"]\nprotect = [\"22\"]\n[door.b]\nsequence = [\"7000\", \"8000\"]\nclose_sequence = [\"8000\", \"7000\"]\nprotect = [\"23\"]\n")
	var got []string
	for _, r := range table.Chain(compiler.DoorsChain).Rules {
		got = append(got, r.String())
	}
	want := []string{
		`ip saddr @knock_mid_v4 goto doors_all comment "role=mid"`,
		`ip6 saddr @knock_mid_v6 goto doors_all comment "role=mid"`,
		`tcp dport 6000 jump a_open comment "door=a role=knock"`,
		`tcp dport 7000 jump b_open comment "door=b role=knock"`,
		`tcp dport 8000 jump b_close comment "door=b role=knock"`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("doors chain rules (-want +got):\n%s\n%s", diff, ruleset.Render(table))
	}
	got = nil
	for _, r := range table.Chain(compiler.AllDoorsChain).Rules {
		got = append(got, r.String())
	}
	want = []string{
		`jump a_open comment "door=a role=knock"`,
		`jump b_open comment "door=b role=knock"`,
		`jump b_close comment "door=b role=knock"`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("doors_all chain rules (-want +got):\n%s", diff)
	}
}

func TestCompileInputChain(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"all interfaces but lo", door(`["1"]`, ""), []string{
			`ct state established,related accept comment "role=established"`,
			`iifname "lo" accept comment "role=loopback"`,
			`tcp dport 0 ct state invalid,untracked jump answer_port comment "role=answer-port"`,
			`jump doors comment "role=doors"`,
			`tcp dport 22 jump ssh_gate comment "door=ssh role=gate"`,
		}},
		{"listed interfaces: knocks count there, gates run everywhere", door(`["1"]`, "[table]\ninterfaces = [\"eth0\", \"wg*\"]\n"), []string{
			`ct state established,related accept comment "role=established"`,
			`iifname "lo" accept comment "role=loopback"`,
			`tcp dport 0 ct state invalid,untracked jump answer_port comment "role=answer-port"`,
			`iifname "eth0" jump doors comment "role=doors"`,
			`iifname "wg*" jump doors comment "role=doors"`,
			`tcp dport 22 jump ssh_gate comment "door=ssh role=gate"`,
		}},
		{"lo listed: loopback is gated and knocks on it count", door(`["1"]`, "[table]\ninterfaces = [\"lo\"]\n"), []string{
			`ct state established,related accept comment "role=established"`,
			`tcp dport 0 ct state invalid,untracked jump answer_port comment "role=answer-port"`,
			`iifname "lo" jump doors comment "role=doors"`,
			`tcp dport 22 jump ssh_gate comment "door=ssh role=gate"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCompile(t, tt.src).Chain(compiler.InputChain)
			var got []string
			for _, r := range c.Rules {
				got = append(got, r.String())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("input chain rules (-want +got):\n%s", diff)
			}
			if c.Hook == nil || c.Hook.Hook != "input" || c.Hook.Policy != "accept" || c.Hook.Priority != -150 {
				t.Errorf("input chain hook = %+v, want filter input priority -150 policy accept", c.Hook)
			}
		})
	}
}

// TestCompileAllowFromJumps: one jump per allow_from prefix, prefixes inside
// another left out, so one packet enters a sequence chain at most once.
func TestCompileAllowFromJumps(t *testing.T) {
	table := mustCompile(t, door(`["1", "2"]`, "allow_from = [\"2001:db8::/32\", \"10.1.0.0/16\", \"10.0.0.0/8\", \"2001:db8:1::/48\", \"192.0.2.1\", \"10.0.0.0/8\"]\n"))
	var got []string
	for _, r := range rulesWith(t, table, compiler.DoorsChain, "role=knock") {
		got = append(got, r.String())
	}
	want := []string{
		`tcp dport 1 ip saddr 10.0.0.0/8 jump ssh_open comment "door=ssh role=knock"`,
		`tcp dport 1 ip saddr 192.0.2.1 jump ssh_open comment "door=ssh role=knock"`,
		`tcp dport 1 ip6 saddr 2001:db8::/32 jump ssh_open comment "door=ssh role=knock"`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("allow_from jumps (-want +got):\n%s", diff)
	}
}

// The tests below run packets through a compiled table with nftsim, a
// small model of nftables' evaluation, to check what the rules do rather
// than how they read. Time is explicit: an element lives until now + the
// set's timeout. The differential test in ruleset/nftkernel checks nftsim
// against the kernel (docs/testing.md).

// packet is one packet arriving at the input hook, never part of an
// established connection (those are accepted by the first rule).
type packet = nftsim.Packet

func syn(src string, port uint16) packet {
	return packet{Src: netip.MustParseAddr(src), Proto: ruleset.TCP, DPort: port, Flags: 0x02, IIf: "eth0"}
}

// on returns p as arriving on interface iif.
func on(p packet, iif string) packet {
	p.IIf = iif
	return p
}

func udpTo(src string, port uint16) packet {
	return packet{Src: netip.MustParseAddr(src), Proto: ruleset.UDP, DPort: port, IIf: "eth0"}
}

// sim is nftsim.Sim that fails the test on a statement it does not model
// and gives verdicts as strings.
type sim struct {
	*nftsim.Sim
	t testing.TB
}

func newSim(t testing.TB, tab *ruleset.Table) *sim { return &sim{Sim: nftsim.New(tab), t: t} }

// send runs p through the table and returns the verdict: "accept", "drop",
// "reject" or "hold" (queued).
func (s *sim) send(p packet) string {
	s.t.Helper()
	v, err := s.Send(p)
	if err != nil {
		s.t.Fatal(err)
	}
	return string(v)
}

// sendAll sends packets one second apart and returns the last verdict.
func (s *sim) sendAll(ps ...packet) string {
	s.t.Helper()
	var v string
	for _, p := range ps {
		s.Now += time.Second
		v = s.send(p)
	}
	return v
}

const client = "198.51.100.7"

func classic(t testing.TB) *ruleset.Table {
	t.Helper()
	data := exampleSpecs(t)["classic-ssh.toml"]
	return compileExample(t, "classic-ssh.toml", data)
}

func TestSimClassicDoor(t *testing.T) {
	knock := []packet{syn(client, 7000), syn(client, 8000), syn(client, 9000)}
	tests := []struct {
		name    string
		packets []packet
		wait    time.Duration // before the final connect to 22
		want    string        // verdict of a SYN to 22 from client afterwards
	}{
		{"no knock", nil, 0, "reject"},
		{"knock", knock, 0, "accept"},
		{"knock, then too late", knock, 31 * time.Second, "reject"},
		{"wrong order", []packet{syn(client, 8000), syn(client, 7000), syn(client, 9000)}, 0, "reject"},
		{"missing step", []packet{syn(client, 7000), syn(client, 9000)}, 0, "reject"},
		{"repeated knocks count once", []packet{syn(client, 7000), syn(client, 7000), syn(client, 8000), syn(client, 8000), syn(client, 9000)}, 0, "accept"},
		{"other port in between (strict)", []packet{syn(client, 7000), syn(client, 7500), syn(client, 8000), syn(client, 9000)}, 0, "reject"},
		{"protected port in between (strict)", []packet{syn(client, 7000), syn(client, 22), syn(client, 8000), syn(client, 9000)}, 0, "reject"},
		{"restart after a wrong knock", []packet{syn(client, 7000), syn(client, 7500), syn(client, 7000), syn(client, 8000), syn(client, 9000)}, 0, "accept"},
		{"ack packets are not knocks", []packet{
			{Src: netip.MustParseAddr(client), Proto: ruleset.TCP, DPort: 7000, Flags: 0x10},
			{Src: netip.MustParseAddr(client), Proto: ruleset.TCP, DPort: 8000, Flags: 0x10},
			{Src: netip.MustParseAddr(client), Proto: ruleset.TCP, DPort: 9000, Flags: 0x10},
		}, 0, "reject"},
		{"syn-ack packets are not knocks", []packet{
			{Src: netip.MustParseAddr(client), Proto: ruleset.TCP, DPort: 7000, Flags: 0x12},
			{Src: netip.MustParseAddr(client), Proto: ruleset.TCP, DPort: 8000, Flags: 0x12},
			{Src: netip.MustParseAddr(client), Proto: ruleset.TCP, DPort: 9000, Flags: 0x12},
		}, 0, "reject"},
		{"udp is not tcp", []packet{udpTo(client, 7000), udpTo(client, 8000), udpTo(client, 9000)}, 0, "reject"},
		{"knock from another address", []packet{syn("198.51.100.8", 7000), syn("198.51.100.8", 8000), syn("198.51.100.8", 9000)}, 0, "reject"},
		{"another address knocked over ipv6", []packet{syn("2001:db8::7", 7000), syn("2001:db8::7", 8000), syn("2001:db8::7", 9000)}, 0, "reject"},
		{"knock then close", append(append([]packet{}, knock...), syn(client, 9000), syn(client, 8000), syn(client, 7000)), 0, "reject"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSim(t, classic(t))
			s.sendAll(tt.packets...)
			s.Now += tt.wait
			if got := s.sendAll(syn(client, 22)); got != tt.want {
				t.Errorf("after %v: SYN to 22 = %s, want %s (logs %q)", tt.name, got, tt.want, s.Logs)
			}
		})
	}

	t.Run("ipv6 knock", func(t *testing.T) {
		s := newSim(t, classic(t))
		const v6 = "2001:db8::7"
		s.sendAll(syn(v6, 7000), syn(v6, 8000), syn(v6, 9000))
		if got := s.sendAll(syn(v6, 22)); got != "accept" {
			t.Errorf("SYN to 22 from the ipv6 knocker = %s, want accept", got)
		}
		if got := s.sendAll(syn(client, 22)); got != "reject" {
			t.Errorf("SYN to 22 from another address = %s, want reject", got)
		}
	})
}

func TestSimTimeouts(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		gaps  []time.Duration // before each of the knocks 1, 2, 3
		wantV string
	}{
		{"within step_timeout", door(`["1", "2", "3"]`, ""), []time.Duration{0, 4 * time.Second, 4 * time.Second}, "accept"},
		{"step_timeout exceeded", door(`["1", "2", "3"]`, ""), []time.Duration{0, 4 * time.Second, 5 * time.Second}, "reject"},
		{"seq_timeout met", door(`["1", "2", "3"]`, "seq_timeout = \"8s\"\n"), []time.Duration{0, 4 * time.Second, 3900 * time.Millisecond}, "accept"},
		{"seq_timeout exceeded", door(`["1", "2", "3"]`, "seq_timeout = \"8s\"\n"), []time.Duration{0, 4 * time.Second, 4 * time.Second}, "reject"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSim(t, mustCompile(t, tt.src))
			for i, gap := range tt.gaps {
				s.Now += gap
				s.send(syn(client, uint16(i+1)))
			}
			s.Now += time.Millisecond
			if got := s.send(syn(client, 22)); got != tt.wantV {
				t.Errorf("SYN to 22 = %s, want %s", got, tt.wantV)
			}
		})
	}
}

// TestSimScan: a sequential scan over the knock ports opens a non-strict
// door but never a strict one (docs/design.md, "Targets": knockd's door
// opens here).
func TestSimScan(t *testing.T) {
	for _, tt := range []struct {
		strict bool
		want   string
	}{{true, "reject"}, {false, "accept"}} {
		t.Run(fmt.Sprintf("strict=%v", tt.strict), func(t *testing.T) {
			s := newSim(t, mustCompile(t, door(`["7000", "8000", "9000"]`, fmt.Sprintf("strict = %v\nstep_timeout = \"1h\"\n", tt.strict))))
			for port := uint16(6990); port <= 9010; port++ {
				s.Now += time.Millisecond
				s.send(syn(client, port))
			}
			if got := s.send(syn(client, 22)); got != tt.want {
				t.Errorf("after a scan of 6990-9010: SYN to 22 = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestSimOnePacketOneStep: a packet that completes one step is not also
// taken as the next step, even when both are the same port.
func TestSimOnePacketOneStep(t *testing.T) {
	tab := mustCompile(t, door(`["7000", "7000", "7000"]`, ""))
	for n, want := range []string{"reject", "reject", "reject", "accept"} {
		s := newSim(t, tab)
		for i := 0; i < n; i++ {
			s.sendAll(syn(client, 7000))
		}
		if got := s.sendAll(syn(client, 22)); got != want {
			t.Errorf("after %d knocks on 7000: SYN to 22 = %s, want %s", n, got, want)
		}
	}
}

func TestSimExamples(t *testing.T) {
	specs := exampleSpecs(t)
	tests := []struct {
		name    string
		example string
		knock   []packet
		probe   packet
		before  string
		after   string
		logs    []string
	}{
		{"udp and tcp knock opens udp port", "mixed-tcp-udp.toml", []packet{udpTo(client, 40001), syn(client, 41002), udpTo(client, 42003)}, udpTo(client, 51820), "reject", "accept", []string{"knockc open vpn"}},
		{"wrong protocol on step 2 resets", "mixed-tcp-udp.toml", []packet{udpTo(client, 40001), udpTo(client, 41002), udpTo(client, 42003)}, syn(client, 443), "reject", "reject", nil},
		{"ipv6 knock opens", "ipv6-only.toml", []packet{syn("2001:db8::7", 6001), syn("2001:db8::7", 6002), syn("2001:db8::7", 6003), syn("2001:db8::7", 6004)}, syn("2001:db8::7", 22), "reject", "accept", []string{"knockc open ssh6"}},
		{"ipv4 knock does nothing", "ipv6-only.toml", []packet{syn(client, 6001), syn(client, 6002), syn(client, 6003), syn(client, 6004)}, syn(client, 22), "reject", "reject", nil},
		{"postgres knock opens postgres", "two-doors.toml", []packet{syn(client, 7100), udpTo(client, 7200)}, syn(client, 5432), "drop", "accept", []string{"knockc open postgres"}},
		{"postgres knock leaves ssh closed", "two-doors.toml", []packet{syn(client, 7100), udpTo(client, 7200)}, syn(client, 22), "drop", "drop", []string{"knockc open postgres"}},
		{"non-strict door ignores other ports", "two-doors.toml", []packet{syn(client, 7100), syn(client, 7150), udpTo(client, 7200)}, syn(client, 5432), "drop", "accept", []string{"knockc open postgres"}},
		{"managed door holds the knocker back", "managed-commands.toml", []packet{syn(client, 7000), syn(client, 8000), syn(client, 9000)}, syn(client, 22), "reject", "hold", []string{"knockc open ssh"}},
		{"allowed source opens", "allow-from-interfaces.toml", []packet{syn("203.0.113.9", 7000), syn("203.0.113.9", 8000), syn("203.0.113.9", 9000)}, syn("203.0.113.9", 22), "reject", "accept", []string{"knockc open admin"}},
		{"other source cannot knock", "allow-from-interfaces.toml", []packet{syn(client, 7000), syn(client, 8000), syn(client, 9000)}, syn(client, 22), "reject", "reject", nil},
		{"other interface is gated too", "allow-from-interfaces.toml", []packet{syn("203.0.113.9", 7000), syn("203.0.113.9", 8000), syn("203.0.113.9", 9000)}, on(syn("203.0.113.9", 22), "ens3"), "reject", "accept", []string{"knockc open admin"}},
		{"knocks on another interface do not count", "allow-from-interfaces.toml", []packet{on(syn("203.0.113.9", 7000), "ens3"), on(syn("203.0.113.9", 8000), "ens3"), on(syn("203.0.113.9", 9000), "ens3")}, on(syn("203.0.113.9", 22), "ens3"), "reject", "reject", nil},
		{"loopback is not gated", "allow-from-interfaces.toml", nil, on(syn("127.0.0.1", 22), "lo"), "accept", "accept", nil},
		{"loopback is not gated by default", "classic-ssh.toml", nil, on(syn("127.0.0.1", 22), "lo"), "accept", "accept", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := compileExample(t, tt.example, specs[tt.example])
			s := newSim(t, tab)
			if got := s.sendAll(tt.probe); got != tt.before {
				t.Errorf("before knocking: %+v = %s, want %s", tt.probe, got, tt.before)
			}
			s = newSim(t, tab)
			s.sendAll(tt.knock...)
			if got := s.sendAll(tt.probe); got != tt.after {
				t.Errorf("after knocking %v: %+v = %s, want %s", tt.knock, tt.probe, got, tt.after)
			}
			if !cmp.Equal(s.Logs, tt.logs) {
				t.Errorf("log events = %q, want %q", s.Logs, tt.logs)
			}
		})
	}
}

// TestSimManaged: the last knock makes the source pending (held back
// silently) and logs the event; once the monitor grants it, it passes.
func TestSimManaged(t *testing.T) {
	tab := compileExample(t, "managed-commands.toml", exampleSpecs(t)["managed-commands.toml"])
	s := newSim(t, tab)
	src := netip.MustParseAddr(client)
	s.sendAll(syn(client, 7000), syn(client, 8000), syn(client, 9000))
	if !s.Has("ssh_pending_v4", src) || s.Has("ssh_grant_v4", src) {
		t.Fatalf("after the knock: pending %v, granted %v; want pending only", s.Has("ssh_pending_v4", src), s.Has("ssh_grant_v4", src))
	}
	// What the monitor does on the event: grant, take out of pending.
	if err := s.Add("ssh_grant_v4", src, time.Minute); err != nil {
		t.Fatal(err)
	}
	s.Delete("ssh_pending_v4", src)
	if got := s.sendAll(syn(client, 22)); got != "accept" {
		t.Errorf("granted: SYN to 22 = %s, want accept", got)
	}
	s.sendAll(syn(client, 9000), syn(client, 8000), syn(client, 7000))
	if s.Has("ssh_grant_v4", src) || s.Has("ssh_pending_v4", src) {
		t.Errorf("after the close knock the source is still granted or pending")
	}
	if want := []string{"knockc open ssh", "knockc close ssh"}; !cmp.Equal(s.Logs, want) {
		t.Errorf("log events = %q, want %q", s.Logs, want)
	}
}

// TestSimStrictAcrossDoors: a strict door's half-done sequence is reset by
// a probe of any gated port, including another door's (docs/design.md,
// "The ruleset": the sequence chains all run before the gates).
func TestSimStrictAcrossDoors(t *testing.T) {
	tab := mustCompile(t, "[door.a]\nsequence = [\"6000\"]\nprotect = [\"22\"]\n[door.b]\nsequence = [\"7000\", \"8000\", \"9000\"]\nprotect = [\"23\"]\n")
	s := newSim(t, tab)
	s.sendAll(syn(client, 7000), syn(client, 22), syn(client, 8000), syn(client, 9000))
	if got := s.sendAll(syn(client, 23)); got != "reject" {
		t.Errorf("door b knocked with a probe of door a's port 22 in between: SYN to 23 = %s, want reject", got)
	}
}
