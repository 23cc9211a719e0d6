package compiler

// hostTables are table names other software on a host commonly creates;
// a spec naming one of them probably copies a firewall's table name by
// mistake. knockc never changes a table it did not create (see
// docs/fail-closed.md), so this is a warning: the apply would be refused.
var hostTables = map[string]string{
	"filter":          "iptables-nft, ufw, docker and most hand-written firewalls",
	"nat":             "iptables-nft, docker",
	"mangle":          "iptables-nft",
	"raw":             "iptables-nft",
	"security":        "iptables-nft",
	"firewalld":       "firewalld",
	"firewall":        "hand-written firewalls",
	"fw":              "hand-written firewalls",
	"kube-proxy":      "kube-proxy",
	"netavark":        "podman",
	"lxd":             "LXD",
	"incus":           "Incus",
	"libvirt_network": "libvirt",
	"crowdsec":        "CrowdSec",
	"sshguard":        "sshguard",
	"f2b-table":       "fail2ban",
	"nftables":        "distribution examples (/etc/nftables.conf)",
}

// Warnings returns what is valid in the spec but probably not meant: a
// table name another tool commonly uses, or no door at all (a spec with
// no door applies a table that protects nothing, as an import that
// translated nothing writes). Empty when there is nothing to say.
func Warnings(s *Spec) []string {
	var out []string
	if who, ok := hostTables[s.Table.Name]; ok {
		out = append(out, s.File+`: table name "`+s.Table.Name+`" is commonly used by `+who+
			`; knockc refuses to change a table it did not create, so pick a name of knockc's own (default "`+DefaultTableName+`")`)
	}
	if len(s.Doors) == 0 {
		out = append(out, s.File+": no doors: the table protects nothing until a [door.NAME] section is added")
	}
	return out
}
