//go:build linux

package hostnet

import (
	"net"
	"strconv"
	"testing"
)

// TestListeners finds a TCP listener and a bound UDP socket of this
// process, and nothing on a port no socket holds.
func TestListeners(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	got, err := Listeners("", port)
	if err != nil || len(got) != 1 || got[0] != "tcp 0100007F:"+strconv.Itoa(int(port)) {
		t.Errorf("Listeners(%d) = %q, %v; want the TCP listener", port, got, err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	uport := uint16(pc.LocalAddr().(*net.UDPAddr).Port)
	if got, err := Listeners("", uport); err != nil || len(got) != 1 {
		t.Errorf("Listeners(%d) = %q, %v; want the UDP socket", uport, got, err)
	}
	if got, err := Listeners("", 0); err != nil || len(got) != 0 {
		t.Errorf("Listeners(0) = %q, %v; want none (no socket can bind port 0)", got, err)
	}
}
