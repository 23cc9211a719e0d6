package knockdconf

import (
	"fmt"
	"strings"
	"testing"
)

func TestInterpretCommand(t *testing.T) {
	cases := []struct {
		name, cmd string
		want      string // what describe says, or a part of it
	}{
		// iptables and ip6tables
		{"append", "/sbin/iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT", "grant [ipv4] 22/tcp"},
		{"insert with position", "iptables -I INPUT 1 -s %IP% -p udp --dport 53 -j ACCEPT", "grant [ipv4] 53/udp"},
		{"delete", "/usr/sbin/iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT", "revoke [ipv4] 22/tcp"},
		{"ip6tables", "ip6tables-nft --append INPUT --source %IP% --protocol tcp --destination-port 22 --jump ACCEPT", "grant [ipv6] 22/tcp"},
		{"multiport", "iptables -A INPUT -s %IP% -p tcp -m multiport --dports 80,443 -j ACCEPT", "grant [ipv4] 80/tcp, 443/tcp"},
		{"state and comment", `iptables -A INPUT -s %IP% -p tcp -m state --state NEW -m comment --comment "knockd ssh" --dport 22 -j ACCEPT`, "grant [ipv4] 22/tcp"},
		{"conntrack", "iptables -I INPUT -s %IP% -p tcp -m conntrack --ctstate NEW,ESTABLISHED -m tcp --dport 22 -j ACCEPT", "grant [ipv4] 22/tcp"},
		{"filter table, syn", "iptables -t filter -A INPUT -s %IP%/32 -p tcp --syn --dport 22 -j ACCEPT", "grant [ipv4] 22/tcp"},
		{"dport=", "iptables -A INPUT -s %IP% -p tcp --dport=2222 -j ACCEPT", "grant [ipv4] 2222/tcp"},
		{"interface", "iptables -A INPUT -i eth1 -s %IP% -p tcp --dport 22 -j ACCEPT", "grant [ipv4] 22/tcp on eth1"},
		{"named port", "iptables -A INPUT -s %IP% -p tcp --dport ssh -j ACCEPT", "grant [ipv4] 22/tcp"},
		{"named port https", "iptables -A INPUT -s %IP% -p tcp --dport https -j ACCEPT", "grant [ipv4] 443/tcp"},
		{"unknown name", "iptables -A INPUT -s %IP% -p tcp --dport nosuchsvc -j ACCEPT", `refused: opens port "nosuchsvc", a name neither /etc/services nor knockc's own table knows`},
		{"no -p", "iptables -A INPUT -s %IP% --dport 22 -j ACCEPT", "grant [ipv4] 22/tcp (--dport without -p"},
		{"check then add", "iptables -C INPUT -s %IP% -p tcp --dport 22 -j ACCEPT || iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT", "noop + grant [ipv4] 22/tcp"},
		{"no port", "iptables -A INPUT -s %IP% -p tcp --syn -j ACCEPT", "refused: has no --dport, so it opens every tcp port to the knocker"},
		{"no port, no protocol", "iptables -A INPUT -s %IP% -j ACCEPT", "opens every port of every protocol"},
		{"range", "iptables -A INPUT -s %IP% -p tcp --dport 1000:2000 -j ACCEPT", `refused: opens the port range "1000:2000"`},
		{"icmp", "iptables -A INPUT -s %IP% -p icmp -j ACCEPT", `refused: matches protocol "icmp"`},
		{"custom chain", "iptables -I knock-in -s %IP% -p tcp --dport 22 -j ACCEPT", `grant [ipv4] 22/tcp (adds to chain "knock-in", read as reached from INPUT`},
		{"self-closing", "iptables -I INPUT -s %IP% -p tcp --dport 22 -j ACCEPT && sleep 30 && iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT", "grant [ipv4] 22/tcp for 30s + noop + noop"},
		{"other chain", "iptables -A FORWARD -s %IP% -p tcp --dport 22 -j ACCEPT", `refused: changes chain "FORWARD"`},
		{"nat table", "iptables -t nat -A PREROUTING -s %IP% -p tcp --dport 22 -j DNAT", `refused: works on table "nat"`},
		{"drop the knocker", "iptables -A INPUT -s %IP% -p tcp --dport 22 -j DROP", "refused: jumps to DROP: it shuts a port"},
		{"delete a drop", "iptables -D INPUT -p tcp --dport 22 -j DROP", "grant [ipv4] 22/tcp to everyone (deletes a DROP rule"},
		{"everyone", "iptables -A INPUT -p tcp --dport 22 -j ACCEPT", "grant [ipv4] 22/tcp to everyone"},
		{"other source", "iptables -A INPUT -s 10.0.0.1 -p tcp --dport 22 -j ACCEPT", `refused: matches source "10.0.0.1"`},
		{"other match", "iptables -A INPUT -s %IP% -p tcp -m recent --set --dport 22 -j ACCEPT", `refused: uses match "recent"`},
		{"no command", "iptables -s %IP% -p tcp --dport 22 -j ACCEPT", "refused: neither adds (-A, -I) nor deletes (-D) a rule"},
		{"missing value", "iptables -A INPUT -s %IP% -p tcp --dport", "refused: --dport needs a value"},
		{"sudo", "sudo /sbin/iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT", "grant [ipv4] 22/tcp"},
		{"tcp-flags, limit, destination, numeric protocol", "iptables -A INPUT -s %IP% -p 6 --tcp-flags SYN,RST,ACK SYN -m limit --limit 3/min --limit-burst 3 -d 192.0.2.1 --dport 22 -j ACCEPT", "grant [ipv4] 22/tcp (-m limit caps how often the rule matches; knockc does not rate-limit the knocker's connections; allows only to address 192.0.2.1"},
		// knockd's helpers
		{"knock_add", "/usr/local/sbin/knock_add -i -c INPUT -p tcp -d 443 -f %IP%", "grant [ipv4] 443/tcp"},
		{"knock_helper_ipt.sh", `/usr/sbin/knock_helper_ipt.sh -a -f %IP% -d 22 -m "knockd ssh"`, "grant [ipv4] 22/tcp"},
		{"knock_helper_ipt.sh delete", "knock_helper_ipt.sh -x -f %IP% -d 22 -p udp", "revoke [ipv4] 22/udp"},
		{"knock_helper forward", "knock_helper_ipt.sh -i -f %IP% -d 2443 -c FORWARD", `refused: changes chain "FORWARD"`},
		// ufw
		{"ufw allow", "ufw allow from %IP% to any port 22", "grant [] 22/tcp, 22/udp"},
		{"ufw allow proto", "/usr/sbin/ufw allow proto tcp from %IP% to any port 22", "grant [] 22/tcp"},
		{"ufw insert", "ufw insert 1 allow from %IP% to any port 2222 proto tcp", "grant [] 2222/tcp"},
		{"ufw delete", "ufw delete allow from %IP% to any port 22 proto tcp", "revoke [] 22/tcp"},
		{"ufw on iface", "ufw allow in on eth0 from %IP% to any port 22 proto tcp", "grant [] 22/tcp on eth0"},
		{"ufw app", "ufw allow from %IP% to any app OpenSSH", "grant [] 22/tcp"},
		{"ufw everyone", "ufw allow 2222/tcp", "grant [] 2222/tcp to everyone"},
		{"ufw deny", "ufw insert 1 deny from %IP% to any", "refused: denys the knocker"},
		{"ufw all ports", "ufw allow from %IP%", "refused: names no port, so it opens every port to the knocker"},
		// firewall-cmd
		{"rich rule", `firewall-cmd --zone=public --add-rich-rule='rule family="ipv4" source address="%IP%" port port="22" protocol="tcp" accept'`, "grant [ipv4] 22/tcp"},
		{"rich rule, port first", `/bin/firewall-cmd --add-rich-rule 'rule family="ipv6" source address="%IP%" port protocol="udp" port="1194" accept'`, "grant [ipv6] 1194/udp"},
		{"rich rule with timeout", `firewall-cmd --add-rich-rule='rule family="ipv4" source address="%IP%" port port="22" protocol="tcp" accept' --timeout=60`, "grant [ipv4] 22/tcp for 60s"},
		{"rich rule, service", `firewall-cmd --zone=internal --add-rich-rule="rule family="ipv4" source address="%IP%" service name="ssh" accept"`, "grant [ipv4] 22/tcp"},
		{"rich rule removed", `firewall-cmd --remove-rich-rule='rule family="ipv4" source address="%IP%" port port="22" protocol="tcp" accept'`, "revoke [ipv4] 22/tcp"},
		{"rich rule, no port", `firewall-cmd --add-rich-rule='rule family="ipv4" source address="%IP%" accept'`, "refused: rich rule names no port or service"},
		{"direct rule", "firewall-cmd --permanent --direct --add-rule ipv4 filter INPUT 0 -s %IP% -p tcp --dport 22 -j ACCEPT", "grant [ipv4] 22/tcp"},
		{"direct rule removed", "firewall-cmd --direct --remove-rule ipv6 filter INPUT 0 -s %IP% -p tcp --dport 22 -j ACCEPT", "revoke [ipv6] 22/tcp"},
		{"add-service", "firewall-cmd --zone=public --add-service=ssh", "grant [] 22/tcp to everyone"},
		{"reload", "firewall-cmd --reload", "noop"},
		// nft
		{"nft rule", "nft add rule inet filter input ip saddr %IP% tcp dport 22 accept", "grant [ipv4] 22/tcp"},
		{"nft insert", "nft insert rule inet filter input iifname eth0 ip6 saddr %IP% tcp dport { 22, 2222 } ct state new accept", "grant [ipv6] 22/tcp, 2222/tcp on eth0"},
		{"nft element", `nft add element inet filter ssh_allow \{ %IP% timeout 30s \}`, "grant [] 22/tcp for 30s (took the port of set \"ssh_allow\" from its name)"},
		{"nft element numbered", `nft add element ip filter allow_2222 '{ %IP% }'`, "grant [ipv4] 2222/tcp"},
		{"nft element delete", `nft delete element ip filter allow_2222 '{ %IP% }'`, "revoke [ipv4] 2222/tcp"},
		{"nft element unknown set", `nft add element inet filter friends '{ %IP% }'`, `refused: adds the knocker to set "friends"`},
		{"nft delete rule by text", "nft delete rule inet filter input tcp dport 22 ip saddr %IP% accept", "revoke [ipv4] 22/tcp (nft deletes a rule only by its handle"},
		{"nft delete rule by handle", "nft delete rule inet filter input handle 7", "refused: deletes a rule by its handle"},
		{"ipset -exist after the set", "/sbin/ipset add sshd -exist %IP%", "grant [ipv4] 22/tcp"},
		{"nft forward", "nft add rule inet filter forward ip saddr %IP% tcp dport 22 accept", `refused: changes chain "forward"`},
		// ipset, and commands handed to a shell
		{"ipset", "ipset add ssh_knock %IP% timeout 120", "grant [ipv4] 22/tcp for 120s (took the port of ipset \"ssh_knock\" from its name)"},
		{"ipset del", "/usr/sbin/ipset -exist del allow_2222 %IP%", "revoke [ipv4] 2222/tcp"},
		{"ipset unknown set", "ipset add friends %IP%", `refused: adds the knocker to ipset "friends"`},
		{"sh -c", `/bin/sh -c "service ssh start; iptables -I INPUT -s %IP% -p tcp --dport 22 -j ACCEPT"`, "service start ssh.service + grant [ipv4] 22/tcp"},
		{"sudo bash -c", `sudo bash -c 'ufw allow proto tcp from %IP% to any port 22'`, "grant [] 22/tcp"},
		{"wrappers", "timeout 5 nice -n 10 env LANG=C /sbin/iptables -w 5 -I INPUT -p tcp -s %IP% --dport 8080 -j ACCEPT", "grant [ipv4] 8080/tcp"},
		{"ufw reload", "ufw allow from %IP% to any port 22 proto tcp && ufw reload", "grant [] 22/tcp + noop"},
		// services
		{"systemctl", "/bin/systemctl --no-block start ssh", "service start ssh.service"},
		{"systemctl unit", "systemctl stop openvpn-server@main.service", "service stop openvpn-server@main.service"},
		{"systemctl restart", "systemctl restart ssh", "service start ssh.service"},
		{"service", "service nginx start", "service start nginx.service"},
		{"init script", "/etc/init.d/apache2 stop", "service stop apache2.service"},
		{"socket unit", "systemctl start ssh.socket", "other: is neither a firewall rule for %IP% nor a service start or stop"},
		// compound commands
		{"seed open", "service ssh start && /sbin/iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT", "service start ssh.service + grant [ipv4] 22/tcp"},
		{"seed close", "service ssh stop && /sbin/iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT", "service stop ssh.service + revoke [ipv4] 22/tcp"},
		{"semicolon, no space", "service ssh stop;/sbin/iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT", "service stop ssh.service + revoke [ipv4] 22/tcp"},
		{"trailing comment", "/sbin/iptables -I INPUT 1 -s %IP% -p tcp --dport 22 -j ACCEPT # first rule", "grant [ipv4] 22/tcp"},
		{"logger and quiet", "iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT >/dev/null 2>&1 && logger knock from %IP%", "grant [ipv4] 22/tcp + noop"},
		{"script beside", "/sbin/iptables -I INPUT -s %IP% -p tcp --dport 22 -j ACCEPT; /opt/api/allowip.py %IP%/32", "grant [ipv4] 22/tcp + other"},
		{"pipe", "echo %IP% | mail root", "other: pipes its output"},
		{"redirect to a file", "echo 'stun triggered' > /tmp/stun_output", "other: redirects its output to a file"},
		{"variable", "echo $HOME", "other: uses a shell substitution or variable ('$')"},
		{"subshell", "(iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT)", "other: uses a subshell"},
		{"open quote", `logger "knock`, "other: has an unterminated quote"},
		{"blank", "   ", "other: is empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := describe(interpretCommand(&directive{Value: tc.cmd, Line: 1}, BuiltinServices))
			if !strings.Contains(got, tc.want) {
				t.Errorf("interpretCommand(%q) = %s, want %s", tc.cmd, got, tc.want)
			}
		})
	}
}

// describe renders what a command means, part by part: "grant [ipv4]
// 22/tcp + service start ssh.service".
func describe(m meaning) string {
	var out []string
	for _, p := range m.Parts {
		switch {
		case p.Grant != nil:
			verb := "grant"
			if !p.Grant.Insert {
				verb = "revoke"
			}
			s := fmt.Sprintf("%s %v %s", verb, p.Grant.Families, portsKey(p.Grant.Ports))
			if p.Grant.Everyone {
				s += " to everyone"
			}
			if p.Grant.Iface != "" {
				s += " on " + p.Grant.Iface
			}
			if p.Grant.OpenFor > 0 {
				s += fmt.Sprintf(" for %ds", p.Grant.OpenFor)
			}
			if len(p.Grant.Notes) > 0 {
				s += " (" + strings.Join(p.Grant.Notes, "; ") + ")"
			}
			out = append(out, s)
		case p.Service != nil:
			verb := "stop"
			if p.Service.Start {
				verb = "start"
			}
			out = append(out, fmt.Sprintf("service %s %s", verb, p.Service.Unit))
		case p.Noop:
			out = append(out, "noop")
		case p.Refused != "":
			out = append(out, "refused: "+p.Refused)
		default:
			out = append(out, "other: "+p.Other)
		}
	}
	return strings.Join(out, " + ")
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
