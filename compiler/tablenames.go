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

// TableNameWarnings returns warnings about the spec's table name: empty
// unless another tool commonly uses that name.
func TableNameWarnings(s *Spec) []string {
	who, ok := hostTables[s.Table.Name]
	if !ok {
		return nil
	}
	return []string{s.File + `: table name "` + s.Table.Name + `" is commonly used by ` + who +
		`; knockc refuses to change a table it did not create, so pick a name of knockc's own (default "` + DefaultTableName + `")`}
}
