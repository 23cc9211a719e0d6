package compiler_test

import (
	"net/netip"
	"testing"
	"time"
)

// TestSimTokenDoor: a datagram to the token port holding an unspent token
// of a key grants its sender and spends the token; the same datagram
// again, another key's spent token or a short datagram grants nobody.
func TestSimTokenDoor(t *testing.T) {
	tab := compileExample(t, "token-door.toml", exampleSpecs(t)["token-door.toml"])
	s := newSim(t, tab)
	alice := []byte("alice's token 16")
	if err := s.Add("ssh_tok_alice", netip.Addr{}, 0); err == nil {
		t.Errorf("Add(token set, address) = nil, want an error: a token set is keyed by payload")
	}
	if err := s.AddKey("ssh_tok_alice", alice, time.Minute); err != nil {
		t.Fatal(err)
	}
	token := func(src string, b []byte) packet {
		p := udpTo(src, 62201)
		p.Payload = b
		return p
	}
	const other = "198.51.100.8"
	if got := s.sendAll(token(other, alice[:8]), syn(other, 22)); got != "reject" {
		t.Errorf("after a short datagram: SYN to 22 = %s, want reject", got)
	}
	if got := s.sendAll(token(client, alice), syn(client, 22)); got != "accept" {
		t.Errorf("after alice's token: SYN to 22 = %s, want accept", got)
	}
	if s.HasKey("ssh_tok_alice", alice) {
		t.Errorf("alice's token is still there after use")
	}
	if got := s.sendAll(token(other, alice), syn(other, 22)); got != "reject" {
		t.Errorf("after a replay of alice's token from %s: SYN to 22 = %s, want reject", other, got)
	}
	if want := []string{"knockc open ssh alice"}; len(s.Logs) != 1 || s.Logs[0] != want[0] {
		t.Errorf("log events = %q, want %q", s.Logs, want)
	}
}
