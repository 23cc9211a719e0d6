package examples

import "embed"

// FS holds every example spec (*.toml), the monitor's systemd unit and
// its polkit rule at its top level, by file name.
//
//go:embed *.toml *.service *.timer *.rules
var FS embed.FS

// Default is the example the CLI renders when it is given no spec file:
// knockd's classic openSSH/closeSSH door, which works with no daemon.
const Default = "classic-ssh.toml"
