// Package sshdtest runs a real OpenSSH server for tests: throwaway host and
// client keys in a temporary directory, every setting given with -o, so
// nothing in /etc/ssh is read or touched. The server is meant to be
// started by knockc's monitor (Start/Stop argv) inside a test's network
// namespace and reached with a real ssh client.
package sshdtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Server is one throwaway sshd configuration.
type Server struct {
	Dir       string
	Port      uint16
	HostKey   string
	ClientKey string // private key whose public half is authorized for root
	PidFile   string
}

// New makes keys for a server on port and returns it; nothing runs yet.
// sshd needs its privilege separation directory /run/sshd, which New
// creates when missing. It fails the test when ssh-keygen fails.
func New(t testing.TB, port uint16) *Server {
	t.Helper()
	dir := t.TempDir()
	s := &Server{
		Dir: dir, Port: port,
		HostKey:   filepath.Join(dir, "host_ed25519"),
		ClientKey: filepath.Join(dir, "client_ed25519"),
		PidFile:   filepath.Join(dir, "sshd.pid"),
	}
	for _, key := range []string{s.HostKey, s.ClientKey} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen %s: %v\n%s", key, err, out)
		}
	}
	pub, err := os.ReadFile(s.ClientKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600); err != nil {
		t.Fatal(err)
	}
	// Left in place afterwards: tests in other processes may be running
	// sshd at the same time, and it is sshd's own runtime directory (on
	// tmpfs, as Debian's ssh package creates it at boot).
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatalf("create /run/sshd: %v", err)
	}
	t.Cleanup(func() { s.kill() })
	return s
}

// StartArgv starts sshd as a daemon (it forks and the command exits once
// it listens); it never reads /etc/ssh.
func (s *Server) StartArgv() []string {
	return []string{"/usr/sbin/sshd", "-f", "/dev/null", "-h", s.HostKey,
		"-p", strconv.Itoa(int(s.Port)),
		"-o", "PidFile=" + s.PidFile,
		"-o", "AuthorizedKeysFile=" + filepath.Join(s.Dir, "authorized_keys"),
		"-o", "StrictModes=no",
		"-o", "PermitRootLogin=prohibit-password",
		"-o", "UsePAM=no",
		"-o", "LogLevel=ERROR",
	}
}

// StopArgv stops the listening sshd; sessions it already forked live on,
// as with any sshd.
func (s *Server) StopArgv() []string {
	return []string{"/usr/bin/pkill", "-TERM", "-F", s.PidFile}
}

// Running reports whether the listening sshd is alive.
func (s *Server) Running() bool {
	b, err := os.ReadFile(s.PidFile)
	if err != nil {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return false
	}
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	// A zombie or a recycled pid is not sshd.
	comm, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return err == nil && strings.Contains(string(comm), "sshd")
}

// ClientArgs returns ssh options that log in as root with the client key,
// non-interactively, trusting the throwaway host key.
func (s *Server) ClientArgs(host string) []string {
	return []string{"-i", s.ClientKey, "-p", strconv.Itoa(int(s.Port)),
		"-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
		"-o", "ConnectTimeout=15", "root@" + host}
}

// kill stops a listening sshd left behind by a failed test.
func (s *Server) kill() {
	if s.Running() {
		exec.Command(s.StopArgv()[0], s.StopArgv()[1:]...).Run()
	}
}
