//go:build linux

package nftkernel

import (
	"net/netip"
	"testing"
	"time"

	"github.com/knockc/knockc/internal/testenv/netns"
	"github.com/knockc/knockc/ruleset"
)

var (
	v4 = ruleset.IPv4
	v6 = ruleset.IPv6
)

// The right sequence opens the protected port for the knocker's address
// and nobody else's; the close sequence shuts it again.
func TestIntegrationKnockOpensForKnockerOnly(t *testing.T) {
	t.Parallel()
	e := newKnockEnv(t, classicSpec())
	me := e.pair.Primary
	other := e.pair.AddClient(t)

	e.wantConnect(me, v4, netns.Refused, "before any knock")
	e.knock(me, v4, "7000/tcp", "8000/tcp", "9000/tcp")
	e.wantConnect(me, v4, netns.Open, "after the open sequence")
	e.wantConnect(other, v4, netns.Refused, "another client after my knock")
	e.wantConnect(me, v6, netns.Refused, "my IPv6 address, which did not knock")

	second := netip.MustParsePrefix("198.18.1.77/24")
	me.AddAddr(t, second)
	if got := me.ConnectFrom(second.Addr(), e.pair.ServerV4, protectedPort, 400*time.Millisecond); got != netns.Refused {
		t.Fatalf("connect from a second address of the knocker = %s, want refused", got)
	}

	e.knock(me, v4, "9000/tcp", "8000/tcp", "7000/tcp")
	e.wantConnect(me, v4, netns.Refused, "after the close sequence")
}

// Anything but the exact sequence leaves the door shut.
func TestIntegrationWrongSequencesStayShut(t *testing.T) {
	t.Parallel()
	e := newKnockEnv(t, classicSpec())
	cases := []struct {
		name  string
		steps []string
	}{
		{"wrong order", []string{"8000/tcp", "7000/tcp", "9000/tcp"}},
		{"missing step", []string{"7000/tcp", "9000/tcp"}},
		{"last step only", []string{"9000/tcp"}},
		{"wrong protocol", []string{"7000/udp", "8000/udp", "9000/udp"}},
		{"extra port in between (strict)", []string{"7000/tcp", "7500/tcp", "8000/tcp", "9000/tcp"}},
	}
	for _, tc := range cases {
		c := e.pair.AddClient(t)
		e.knock(c, v4, tc.steps...)
		e.wantConnect(c, v4, netns.Refused, tc.name)
	}
}

// A step slower than step_timeout, or a sequence slower than seq_timeout,
// does not open; the same knocks in time do.
func TestIntegrationTimeouts(t *testing.T) {
	t.Parallel()
	e := newKnockEnv(t, `
[door.ssh]
sequence     = ["7000/tcp", "8000/tcp", "9000/tcp"]
protect      = ["22/tcp"]
step_timeout = "600ms"
seq_timeout  = "900ms"
open_for     = "1500ms"
`)
	slowStep := e.pair.AddClient(t)
	e.knock(slowStep, v4, "7000/tcp")
	time.Sleep(800 * time.Millisecond)
	e.knock(slowStep, v4, "8000/tcp", "9000/tcp")
	e.wantConnect(slowStep, v4, netns.Refused, "a step after step_timeout")

	slowSeq := e.pair.AddClient(t)
	e.knock(slowSeq, v4, "7000/tcp")
	time.Sleep(500 * time.Millisecond)
	e.knock(slowSeq, v4, "8000/tcp")
	time.Sleep(500 * time.Millisecond) // each step in time, the whole 1 s > 900 ms
	e.knock(slowSeq, v4, "9000/tcp")
	e.wantConnect(slowSeq, v4, netns.Refused, "a sequence after seq_timeout")

	inTime := e.pair.AddClient(t)
	e.knock(inTime, v4, "7000/tcp")
	time.Sleep(300 * time.Millisecond)
	e.knock(inTime, v4, "8000/tcp")
	time.Sleep(300 * time.Millisecond)
	e.knock(inTime, v4, "9000/tcp")
	e.wantConnect(inTime, v4, netns.Open, "the same knocks in time")

	// The grant ends after open_for; an established session does not.
	sess, err := inTime.Dial(inTime.ServerV4, protectedPort, time.Second)
	if err != nil {
		t.Fatalf("Dial after knock = %v", err)
	}
	defer sess.Close()
	time.Sleep(1700 * time.Millisecond)
	e.wantConnect(inTime, v4, netns.Refused, "after open_for")
	echo(t, sess, "still here")
}

// Strict mode: a sequential scan across the knock ports, one SYN per port
// in ascending order, does not open the door (knockd's does, every time);
// a retransmitted knock does not reset progress.
func TestIntegrationStrictDefeatsSequentialScan(t *testing.T) {
	t.Parallel()
	e := newKnockEnv(t, classicSpec())
	scanner := e.pair.Primary
	for port := 6990; port <= 9010; port++ {
		if err := scanner.KnockTCP(scanner.ServerV4, uint16(port)); err != nil {
			t.Fatalf("scan port %d: %v", port, err)
		}
	}
	e.wantConnect(scanner, v4, netns.Refused, "after a sequential scan 6990-9010")

	repeat := e.pair.AddClient(t)
	e.knock(repeat, v4, "7000/tcp", "7000/tcp", "8000/tcp", "8000/tcp", "9000/tcp")
	e.wantConnect(repeat, v4, netns.Open, "with each knock sent twice")
}

// A door with strict = false is opened by the same scan: the strict rules
// are what defeats it.
func TestIntegrationNonStrictScanOpens(t *testing.T) {
	t.Parallel()
	e := newKnockEnv(t, classicSpec("strict = false"))
	scanner := e.pair.Primary
	for port := 6990; port <= 9010; port++ {
		if err := scanner.KnockTCP(scanner.ServerV4, uint16(port)); err != nil {
			t.Fatalf("scan port %d: %v", port, err)
		}
	}
	e.wantConnect(scanner, v4, netns.Open, "after a sequential scan of a non-strict door")
}

// Only packets with the door's tcp_flags count as knocks.
func TestIntegrationTCPFlags(t *testing.T) {
	t.Parallel()
	e := newKnockEnv(t, classicSpec())
	send := func(c *netns.Client, flags uint8) {
		t.Helper()
		for _, port := range []uint16{7000, 8000, 9000} {
			if err := c.SendTCPFlags(netip.Addr{}, c.ServerV4, port, flags); err != nil {
				t.Fatalf("SendTCPFlags(%d, %#x) = %v", port, flags, err)
			}
		}
	}
	for _, tc := range []struct {
		name  string
		flags uint8
		want  netns.Outcome
	}{
		{"ack only", netns.ACK, netns.Refused},
		{"syn-ack", netns.SYN | netns.ACK, netns.Refused},
		{"fin", netns.FIN, netns.Refused},
		{"syn", netns.SYN, netns.Open},
	} {
		c := e.pair.AddClient(t)
		send(c, tc.flags)
		e.wantConnect(c, v4, tc.want, "knocks with flags "+tc.name)
	}
}

// UDP steps and IPv6 work end to end, and a grant is per family.
func TestIntegrationUDPAndIPv6(t *testing.T) {
	t.Parallel()
	e := newKnockEnv(t, `
[door.mixed]
sequence = ["7000/udp", "8000/tcp", "9000/udp"]
protect  = ["22/tcp"]
`)
	me := e.pair.Primary
	e.knock(me, v6, "7000/udp", "8000/tcp", "9000/udp")
	e.wantConnect(me, v6, netns.Open, "after a mixed UDP/TCP knock over IPv6")
	e.wantConnect(me, v4, netns.Refused, "IPv4, which did not knock")
	e.knock(me, v4, "7000/udp", "8000/tcp", "9000/udp")
	e.wantConnect(me, v4, netns.Open, "after the same knock over IPv4")
}

// allow_from limits who may knock; interfaces limits where knocks count.
func TestIntegrationAllowFromAndInterfaces(t *testing.T) {
	t.Parallel()
	e := newKnockEnv(t, classicSpec())
	allowed := e.pair.Primary
	other := e.pair.AddClient(t)
	e.apply(classicSpec(`allow_from = ["` + netip.PrefixFrom(allowed.V4, 32).String() + `"]`))
	e.knock(other, v4, "7000/tcp", "8000/tcp", "9000/tcp")
	e.wantConnect(other, v4, netns.Refused, "a source outside allow_from")
	e.knock(allowed, v4, "7000/tcp", "8000/tcp", "9000/tcp")
	e.wantConnect(allowed, v4, netns.Open, "a source inside allow_from")

	// With interfaces set, only knocks arriving there count; the protected
	// port stays gated on every interface (docs/stealth.md).
	e.apply(classicSpecTable(`interfaces = ["` + other.ServerIf + `"]`))
	third := e.pair.AddClient(t)
	e.knock(third, v4, "7000/tcp")
	for _, el := range e.read().Set("ssh_open_s1_v4").Elements {
		if el.Addr == third.V4 {
			t.Fatalf("a knock on an interface not listed counted: %s is in ssh_open_s1_v4", third.V4)
		}
	}
	e.wantConnect(third, v4, netns.Refused, "the protected port on an interface where knocks do not count")
	e.wantConnect(other, v4, netns.Refused, "a listed interface, before knocking")
	e.knock(other, v4, "7000/tcp", "8000/tcp", "9000/tcp")
	e.wantConnect(other, v4, netns.Open, "knocks on the listed interface")
}

// Before any knock a scanner cannot tell the protected port (with a real
// listener behind it) from a knock port or an unused port: all answer with
// a reset under closed = "reject", and all stay silent under "drop" when
// the host's own firewall drops unused ports.
func TestIntegrationScannerSeesClosedPorts(t *testing.T) {
	t.Parallel()
	e := newKnockEnv(t, classicSpec())
	// Ports in an order that is no knock sequence: scanning 7000, 8000,
	// 9000 in order would be a correct knock.
	ports := []uint16{9000, protectedPort, 8000, 7777, 7000}
	probe := func(c *netns.Client, want netns.Outcome) {
		t.Helper()
		for _, f := range []ruleset.Family{v4, v6} {
			for _, port := range ports {
				if got := c.Connect(dst(c, f), port, 300*time.Millisecond); got != want {
					t.Errorf("scan of [%s]:%d = %s, want %s", dst(c, f), port, got, want)
				}
			}
		}
	}
	probe(e.pair.Primary, netns.Refused)

	e.apply(classicSpecTable(`closed = "drop"`))
	// The host's own firewall, as a drop-policy host has it: unused ports
	// get silence, and the protected port is allowed (knockc gates it).
	hostFW := "table inet host { chain input { type filter hook input priority filter; policy drop; ct state established,related accept; iifname lo accept; tcp dport 22 accept; }; }"
	if out, err := e.pair.Server.Exec("nft", hostFW); err != nil {
		t.Fatalf("host firewall: %v\n%s", err, out)
	}
	probe(e.pair.AddClient(t), netns.Timeout)
}

// echo checks that an established session still carries data both ways.
func echo(t *testing.T, c interface {
	Write([]byte) (int, error)
	Read([]byte) (int, error)
	SetDeadline(time.Time) error
}, msg string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatalf("session write = %v, want the established session to survive", err)
	}
	buf := make([]byte, len(msg))
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != msg {
		t.Fatalf("session echo = %q, %v, want %q", buf[:n], err, msg)
	}
}
