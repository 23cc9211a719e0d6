// Package knockdconf translates a knockd configuration (knockd.conf, as
// described in knockd(1) of knockd 0.8) into a knockc spec.
//
// knockd runs shell commands when a sequence completes; knockc grants the
// knocker's address in the kernel. So the translation reads the commands
// for what they mean rather than running them (docs/import.md). Each
// command is split as /bin/sh would split it (shell.go). Every part is then
// read (command.go) as a firewall rule for %IP% (iptables, ip6tables and
// knockd's knock_add and knock_helper_ipt.sh: iptables.go; ufw.go;
// firewall-cmd: firewalld.go; nft and ipset: nft.go) or as a service
// start or stop. A rule that lets the knocker in becomes
// protect, and a started service becomes service = "X.service". The section
// that undoes another (deletes the same rule, stops the same service)
// becomes its close_sequence, whatever the two are called
// (convert.go). start_command/cmd_timeout/stop_command becomes open_for
// (door.go). Everything else is reported line by line, with what knockc
// does instead and the key to write. A door that cannot be completed is
// written out commented. The spec is checked with compiler.Parse as it is
// written (emit.go), so it always loads once it holds a door, and never
// holds two doors that conflict. Input is read within stated limits
// (limits.go).
package knockdconf
