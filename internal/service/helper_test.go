package service

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperArg as the first argument makes the test binary act as a small
// program instead of running tests: Command's tests need daemons and
// failing commands, and the test binary is the one program sure to be
// there.
const helperArg = "knockc-service-helper"

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == helperArg {
		os.Exit(helper(os.Args[2:]))
	}
	// A helper built with -race would otherwise linger 1 s at exit.
	os.Setenv("GORACE", "atexit_sleep_ms=0")
	os.Exit(m.Run())
}

// helperArgv returns the argv that runs the test binary as helper mode
// with args.
func helperArgv(t testing.TB, mode string, args ...string) []string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{exe, helperArg, mode}, args...)
}

// helper runs one helper mode and returns its exit status:
//
//	listen PORT PIDFILE DELAY  foreground daemon: after DELAY, listen on
//	                           127.0.0.1:PORT, write PIDFILE, serve until SIGTERM
//	daemon PORT PIDFILE DELAY  start `listen` detached, then exit 0 at once
//	stop PIDFILE               SIGTERM the pid in PIDFILE and wait until it is gone;
//	                           exits 1 when PIDFILE is missing
//	touch FILE                 create FILE
//	fail CODE WORDS...         print WORDS to stderr, exit CODE
//	spew N                     print N numbered lines, exit 1
//	sleep                      sleep until killed
func helper(args []string) int {
	if len(args) == 0 {
		return 2
	}
	switch args[0] {
	case "listen":
		port, pidfile, delay := args[1], args[2], mustDuration(args[3])
		time.Sleep(delay)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
		if err != nil {
			fmt.Fprintln(os.Stderr, "listen:", err)
			return 1
		}
		if err := os.WriteFile(pidfile, []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		term := make(chan os.Signal, 1)
		signal.Notify(term, syscall.SIGTERM)
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Write([]byte("hello\n"))
				c.Close()
			}
		}()
		<-term
		l.Close()
		os.Remove(pidfile)
		return 0
	case "daemon":
		exe, _ := os.Executable()
		cmd := exec.Command(exe, append([]string{helperArg, "listen"}, args[1:]...)...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	case "stop":
		b, err := os.ReadFile(args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, "not running:", err)
			return 1
		}
		pid, _ := strconv.Atoi(string(b))
		if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		for syscall.Kill(pid, 0) == nil {
			if s, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); strings.Contains(string(s), ") Z ") {
				break // exited; its parent reaps it
			}
			time.Sleep(time.Millisecond)
		}
		return 0
	case "touch":
		if err := os.WriteFile(args[1], nil, 0o644); err != nil {
			return 1
		}
		return 0
	case "fail":
		code, _ := strconv.Atoi(args[1])
		fmt.Fprintln(os.Stderr, strings.Join(args[2:], " "))
		return code
	case "spew":
		n, _ := strconv.Atoi(args[1])
		for i := 0; i < n; i++ {
			fmt.Printf("line %d of some chatty output\n", i)
		}
		return 1
	case "sleep":
		select {}
	}
	return 2
}

func mustDuration(s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return d
}
