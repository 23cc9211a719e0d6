//go:build linux

package hostnet

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Listeners returns the sockets bound to port in the namespace at netns
// (see In): TCP sockets listening on it and UDP sockets bound to it, as
// "tcp 127.0.0.1:22"-like strings. TCP listeners come from sock_diag,
// which walks only the kernel's listening hash (reading /proc/net/tcp
// walks every connection bucket: milliseconds on a busy host); UDP sockets
// from /proc/net/udp{,6}, whose table is small. BenchmarkListeners says
// what one call costs. It fails when the namespace cannot be entered or
// the kernel cannot be asked.
func Listeners(netns string, port uint16) ([]string, error) {
	var out []string
	err := In(netns, func() error {
		tcp, err := tcpListeners(port)
		if err != nil {
			return err
		}
		out = append(out, tcp...)
		for _, t := range []string{"udp", "udp6"} {
			found, err := scan("/proc/thread-self/net/"+t, port, "")
			if err != nil {
				return err
			}
			for _, f := range found {
				out = append(out, t+" "+f)
			}
		}
		return nil
	})
	return out, err
}

// scan returns the local addresses (in the kernel's hex) in one /proc/net
// table bound to port (and in state, when state is set). A missing table
// (no IPv6) is empty.
func scan(path string, port uint16, state string) ([]string, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Scan() // the header line
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 {
			continue
		}
		addr, hexPort, ok := strings.Cut(fields[1], ":")
		if !ok {
			continue
		}
		p, err := strconv.ParseUint(hexPort, 16, 16)
		if err != nil || uint16(p) != port || state != "" && fields[3] != state {
			continue
		}
		out = append(out, addr+":"+strconv.Itoa(int(p)))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}
