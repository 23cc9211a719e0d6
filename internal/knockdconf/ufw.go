package knockdconf

import (
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
)

// parseUFW reads ufw allow|insert N allow|prepend allow|delete allow
// [in] [on IFACE] [proto P] from %IP% [to any|ADDR] [port P] [proto P],
// and the short "ufw allow P[/proto]" that opens P to everyone.
func parseUFW(words []string, resolve Services) (*grant, error) {
	if path.Base(words[0]) != "ufw" {
		return nil, errNotMine
	}
	args := words[1:]
	for len(args) > 0 && strings.HasPrefix(args[0], "--") {
		args = args[1:] // --dry-run is not worth a door, but --force is common
	}
	g := &grant{Insert: true}
	if len(args) > 0 && args[0] == "delete" {
		g.Insert, args = false, args[1:]
	}
	if len(args) > 1 && args[0] == "insert" {
		if _, err := strconv.Atoi(args[1]); err == nil {
			args = args[2:]
		}
	}
	if len(args) > 0 && args[0] == "prepend" {
		args = args[1:]
	}
	if len(args) == 0 {
		return nil, errors.New("changes no rule")
	}
	switch args[0] {
	case "reload", "status", "enable":
		return nil, nil // changes no rule for the knocker
	case "allow", "limit":
		if args[0] == "limit" {
			g.Notes = append(g.Notes, "ufw limit also refuses a source after 6 connections in 30 s; knockc does not")
		}
	case "deny", "reject":
		return nil, fmt.Errorf("%ss the knocker: it shuts a port rather than opening it, and knockc has no ban list", args[0])
	default:
		return nil, fmt.Errorf("runs ufw %s, which opens no port for the knocker", args[0])
	}
	args = args[1:]
	var from, proto string
	var ports []string
	app := ""
	if len(args) == 1 && !strings.Contains(args[0], "%IP%") {
		// ufw allow 22/tcp, ufw allow ssh
		spec, pr, _ := strings.Cut(args[0], "/")
		ports, proto, from = []string{spec}, pr, "any"
		args = nil
	}
	for i := 0; i < len(args); i++ {
		val := func() string {
			if i+1 < len(args) {
				i++
				return args[i]
			}
			return ""
		}
		switch a := args[i]; a {
		case "in":
		case "out", "route":
			return nil, fmt.Errorf("changes %s traffic: knockc gates only what arrives for this host", a)
		case "on":
			g.Iface = val()
		case "proto":
			proto = val()
		case "from":
			from = val()
		case "to":
			if to := val(); to != "any" {
				g.Notes = append(g.Notes, fmt.Sprintf("allows only to address %s; knockc's grant covers every address of this host", to))
			}
		case "port":
			ports = append(ports, val())
		case "app":
			app = val()
		case "comment":
			val()
		default:
			return nil, fmt.Errorf("uses %q, which knockc has no equivalent for", a)
		}
	}
	switch {
	case from == "any" || from == "":
		g.Everyone = true
	case !isKnocker(from):
		return nil, fmt.Errorf("allows source %q, not the knocker's address (from %%IP%%)", from)
	}
	if app != "" {
		if strings.EqualFold(app, "OpenSSH") {
			ports, proto = []string{"22"}, "tcp"
		} else {
			return nil, fmt.Errorf("allows the ufw application profile %q: write its ports in protect", app)
		}
	}
	if len(ports) == 0 {
		return nil, errors.New("names no port, so it opens every port to the knocker")
	}
	protos := []string{proto}
	if proto == "" || proto == "any" {
		// ufw without proto allows tcp and udp; a name in /etc/services
		// brings its own protocols.
		protos = []string{"tcp", "udp"}
		if _, err := strconv.Atoi(strings.Split(ports[0], ",")[0]); err != nil {
			protos = []string{""}
		}
	} else if proto != "tcp" && proto != "udp" {
		return nil, fmt.Errorf("matches protocol %q: knockc protects tcp and udp ports", proto)
	}
	for _, pr := range protos {
		ps, err := parsePorts(ports, pr, resolve)
		if err != nil {
			return nil, err
		}
		g.Ports = append(g.Ports, ps...)
	}
	return g, nil
}
