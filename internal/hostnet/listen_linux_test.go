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
	if err != nil || len(got) != 1 || got[0] != "tcp 127.0.0.1:"+strconv.Itoa(int(port)) {
		t.Errorf("Listeners(%d) = %q, %v; want the TCP listener", port, got, err)
	}
	ln6, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln6.Close()
	port6 := ln6.Addr().(*net.TCPAddr).Port
	if got, err := Listeners("", uint16(port6)); err != nil || len(got) != 1 || got[0] != "tcp6 [::1]:"+strconv.Itoa(port6) {
		t.Errorf("Listeners(%d) = %q, %v; want the IPv6 TCP listener", port6, got, err)
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

// BenchmarkListeners is what the monitor's periodic answer-port check
// costs (this process's namespace: its sockets, /proc/net tables).
func BenchmarkListeners(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := Listeners("", 1); err != nil {
			b.Fatal(err)
		}
	}
}
