package knockdconf

import (
	"fmt"
	"strings"
	"testing"
)

func TestInterpretCommand(t *testing.T) {
	cases := []struct {
		name, cmd string
		want      string // "grant …", "revoke …", "service …", or the reason
	}{
		{"append", "/sbin/iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT", "grant [ipv4] 22/tcp"},
		{"insert with position", "iptables -I INPUT 1 -s %IP% -p udp --dport 53 -j ACCEPT", "grant [ipv4] 53/udp"},
		{"delete", "/usr/sbin/iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT", "revoke [ipv4] 22/tcp"},
		{"ip6tables", "ip6tables-nft --append INPUT --source %IP% --protocol tcp --destination-port 22 --jump ACCEPT", "grant [ipv6] 22/tcp"},
		{"multiport", "iptables -A INPUT -s %IP% -p tcp -m multiport --dports 80,443 -j ACCEPT", "grant [ipv4] 80/tcp, 443/tcp"},
		{"state and comment", `iptables -A INPUT -s %IP% -p tcp -m state --state NEW -m comment --comment "knockd ssh" --dport 22 -j ACCEPT`, "grant [ipv4] 22/tcp"},
		{"filter table", "iptables -t filter -A INPUT -s %IP%/32 -p tcp --syn --dport 22 -j ACCEPT", "grant [ipv4] 22/tcp"},
		{"no -p", "iptables -A INPUT -s %IP% --dport 22 -j ACCEPT", "grant [ipv4] 22/tcp (--dport without -p, which iptables itself refuses; read as -p tcp)"},
		{"no port", "iptables -A INPUT -s %IP% -p tcp --syn -j ACCEPT", "has no --dport, so it opens every tcp port to the knocker"},
		{"no port, no protocol", "iptables -A INPUT -s %IP% -j ACCEPT", "opens every port of every protocol"},
		{"range", "iptables -A INPUT -s %IP% -p tcp --dport 1000:2000 -j ACCEPT", `opens port "1000:2000": knockc protects single ports`},
		{"named port", "iptables -A INPUT -s %IP% -p tcp --dport ssh -j ACCEPT", `opens port "ssh"`},
		{"icmp", "iptables -A INPUT -s %IP% -p icmp -j ACCEPT", `matches protocol "icmp"`},
		{"other chain", "iptables -A FORWARD -s %IP% -p tcp --dport 22 -j ACCEPT", `changes chain "FORWARD"`},
		{"nat table", "iptables -t nat -A PREROUTING -s %IP% -p tcp --dport 22 -j DNAT", `works on table "nat"`},
		{"drop", "iptables -A INPUT -s %IP% -p tcp --dport 22 -j DROP", `jumps to "DROP", not ACCEPT`},
		{"no source", "iptables -A INPUT -p tcp --dport 22 -j ACCEPT", "does not match the knocker's address"},
		{"other match", "iptables -A INPUT -s %IP% -p tcp -m recent --set --dport 22 -j ACCEPT", `uses match "recent"`},
		{"unknown option", "iptables -A INPUT -s %IP% -i eth0 -p tcp --dport 22 -j ACCEPT", "uses -i, which knockc has no equivalent for"},
		{"no command", "iptables -s %IP% -p tcp --dport 22 -j ACCEPT", "neither adds (-A, -I) nor deletes (-D) a rule"},
		{"missing value", "iptables -A INPUT -s %IP% -p tcp --dport", "--dport needs a value"},
		{"systemctl", "/bin/systemctl --no-block start ssh", "service start ssh.service"},
		{"systemctl unit", "systemctl stop openvpn-server@main.service", "service stop openvpn-server@main.service"},
		{"service", "service nginx start", "service start nginx.service"},
		{"init script", "/etc/init.d/apache2 stop", "service stop apache2.service"},
		{"systemctl restart", "systemctl restart ssh", "is neither an iptables ACCEPT for %IP% nor a service start"},
		{"socket unit", "systemctl start ssh.socket", "is neither an iptables ACCEPT"},
		{"pipeline", "iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT && logger ok", `uses shell syntax ('&')`},
		{"variable", "echo $HOME", `uses shell syntax ('$')`},
		{"open quote", `logger "knock`, "has an unterminated quote"},
		{"blank", "   ", "is empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := interpretCommand(&directive{Value: tc.cmd, Line: 1})
			var got string
			switch {
			case m.Grant != nil:
				verb := "grant"
				if !m.Grant.Insert {
					verb = "revoke"
				}
				got = fmt.Sprintf("%s %v %s", verb, m.Grant.Families, portsKey(m.Grant.Ports))
				if len(m.Grant.Notes) > 0 {
					got += " (" + strings.Join(m.Grant.Notes, "; ") + ")"
				}
			case m.Service != nil:
				verb := "stop"
				if m.Service.Start {
					verb = "start"
				}
				got = fmt.Sprintf("service %s %s", verb, m.Service.Unit)
			default:
				got = m.Why
			}
			if !strings.Contains(got, tc.want) {
				t.Errorf("interpretCommand(%q) = %s, want %s", tc.cmd, got, tc.want)
			}
		})
	}
}

func TestDoorName(t *testing.T) {
	cases := []struct{ section, want string }{
		{"openSSH", "ssh"},
		{"opencloseSMTP", "smtp"},
		{"startVPN", "vpn"},
		{"open", "open"},
		{"open-web", "web"},
		{"Mail Server", "mail_server"},
		{"2fa", "fa"},
		{"123", "door"},
		{"a.b.c", "a_b_c"},
		{"averyveryverylongsectionname", "averyveryverylongsec"},
	}
	for _, tc := range cases {
		if got := doorName(tc.section); got != tc.want {
			t.Errorf("doorName(%q) = %q, want %q", tc.section, got, tc.want)
		}
	}
	taken := map[string]bool{}
	var got []string
	for range 3 {
		got = append(got, uniqueName("ssh", taken))
	}
	if fmt.Sprint(got) != "[ssh ssh_2 ssh_3]" {
		t.Errorf("uniqueName(ssh) three times = %v, want [ssh ssh_2 ssh_3]", got)
	}
}

// parse splits lines as knockd 0.8 does.
func TestParse(t *testing.T) {
	c := parse("# comment\n[options]\n UseSyslog \n  logfile=/x  \n[open SSH]\nSequence = 1, 2 \ncommand = a=b\n[]\n")
	if len(c.Options) != 2 || c.Options[0].Key != "USESYSLOG" || c.Options[0].HasValue || c.Options[1].Value != "/x" || c.Options[1].Line != 4 {
		t.Errorf("parse options = %+v", c.Options)
	}
	if len(c.Sections) != 1 || c.Sections[0].Name != "open SSH" || c.Sections[0].Line != 5 {
		t.Fatalf("parse sections = %+v", c.Sections)
	}
	d := c.Sections[0].Directives
	if len(d) != 2 || d[0].Key != "SEQUENCE" || d[0].Value != "1, 2" || d[1].Value != "a=b" {
		t.Errorf("parse directives = %+v", d)
	}
	if len(c.Bad) != 1 || c.Bad[0].Line != 8 {
		t.Errorf("parse bad lines = %+v", c.Bad)
	}
}
