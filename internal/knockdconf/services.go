package knockdconf

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
)

// Services resolves a service name ("ssh", "https") to the ports it has
// for a protocol, as /etc/services does. Protocol "" asks for any.
type Services func(name, proto string) []port

// builtinServices is the importer's own table, used where /etc/services is
// missing (and in tests, so that goldens do not depend on the host): the
// names knockd.conf files use for the ports they open, with IANA's
// numbers, plus the ports of the daemons they start (ssh.service and
// sshd.service serve 22/tcp).
var builtinServices = map[string][]port{
	"ftp":            {{21, "tcp"}},
	"ssh":            {{22, "tcp"}},
	"sshd":           {{22, "tcp"}},
	"openssh":        {{22, "tcp"}},
	"openssh-server": {{22, "tcp"}},
	"dropbear":       {{22, "tcp"}},
	"telnet":         {{23, "tcp"}},
	"smtp":           {{25, "tcp"}},
	"domain":         {{53, "tcp"}, {53, "udp"}},
	"dns":            {{53, "tcp"}, {53, "udp"}},
	"http":           {{80, "tcp"}},
	"www":            {{80, "tcp"}},
	"pop3":           {{110, "tcp"}},
	"imap":           {{143, "tcp"}},
	"imap2":          {{143, "tcp"}},
	"https":          {{443, "tcp"}},
	"smtps":          {{465, "tcp"}},
	"submission":     {{587, "tcp"}},
	"rsync":          {{873, "tcp"}},
	"imaps":          {{993, "tcp"}},
	"pop3s":          {{995, "tcp"}},
	"openvpn":        {{1194, "udp"}},
	"mysql":          {{3306, "tcp"}},
	"ms-wbt-server":  {{3389, "tcp"}},
	"rdp":            {{3389, "tcp"}},
	"postgresql":     {{5432, "tcp"}},
	"vnc":            {{5900, "tcp"}},
	"http-alt":       {{8080, "tcp"}},
	"webcache":       {{8080, "tcp"}},
}

// BuiltinServices resolves names through the importer's own table only.
func BuiltinServices(name, proto string) []port {
	return filterProto(builtinServices[strings.ToLower(name)], proto)
}

// SystemServices resolves names through /etc/services, falling back to the
// importer's own table for names that file lacks or when it is missing.
func SystemServices() Services {
	data, err := os.ReadFile("/etc/services")
	if err != nil || len(data) > maxConfBytes {
		return BuiltinServices
	}
	table := parseServices(data)
	return func(name, proto string) []port {
		if ps := filterProto(table[strings.ToLower(name)], proto); len(ps) > 0 {
			return ps
		}
		return BuiltinServices(name, proto)
	}
}

// parseServices reads /etc/services: "name port/proto [aliases…] [# …]".
func parseServices(data []byte) map[string][]port {
	table := map[string][]port{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		num, proto, ok := strings.Cut(f[1], "/")
		n, err := strconv.Atoi(num)
		if !ok || err != nil || n < 1 || n > 65535 || (proto != "tcp" && proto != "udp") {
			continue
		}
		for _, name := range append([]string{f[0]}, f[2:]...) {
			name = strings.ToLower(name)
			table[name] = append(table[name], port{n, proto})
		}
	}
	return table
}

// filterProto keeps the ports of proto; "" keeps all.
func filterProto(ps []port, proto string) []port {
	if proto == "" {
		return ps
	}
	var out []port
	for _, p := range ps {
		if p.Proto == proto {
			out = append(out, p)
		}
	}
	return out
}

// servicePorts returns the ports a systemd unit usually serves, from the
// unit's name ("ssh.service" → 22/tcp), or nil when the name says nothing.
func servicePorts(unit string) []port {
	name := strings.TrimSuffix(unit, ".service")
	if i := strings.IndexByte(name, '@'); i >= 0 {
		name = name[:i]
	}
	switch name {
	case "ssh", "sshd", "dropbear":
		return []port{{22, "tcp"}}
	}
	return nil
}
