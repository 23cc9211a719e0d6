// Package knockdconf translates a knockd configuration (knockd.conf, as
// described in knockd(1) of knockd 0.8) into a knockc spec.
//
// knockd runs shell commands when a sequence completes; knockc grants the
// knocker's address in the kernel. So the translation reads the commands
// for what they mean rather than running them: an `iptables -A INPUT -s
// %IP% -p tcp --dport 22 -j ACCEPT` becomes protect = ["22/tcp"]; the
// section that deletes the same rule again becomes the door's
// close_sequence; a start_command/cmd_timeout/stop_command trio becomes
// open_for; `systemctl start X` becomes service = "X.service". Everything
// else is reported, line by line, with what to write instead. A door that
// cannot be completed (its protected port is unknown, say) is written out
// commented, so the output always loads with compiler.Parse once it holds
// at least one door.
package knockdconf
