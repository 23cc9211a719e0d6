// Package service starts, stops and queries the service a managed door
// guards: the monitor starts it on a door's first grant and stops it when
// the door's last grant ends.
//
// Two kinds exist. Systemd drives a systemd unit over the D-Bus system bus
// with github.com/coreos/go-systemd/v22/dbus (never a systemctl
// subprocess): it queues a start or stop job, waits for the job's result
// and reads the unit's ActiveState back. Command runs a start and a stop
// argv without a shell; a start command that exits 0 has daemonized (as
// sshd does), one still running after a short grace period is a
// foreground daemon that Command keeps as its child.
//
// A service counts as up once it runs and, with WithReadyPorts, one of its
// TCP ports accepts a connection on 127.0.0.1 or [::1], so a knocker
// granted at that moment finds a listener. The probe is an ordinary
// connect made on the calling goroutine: code running on an OS thread
// switched into another network namespace probes that namespace's
// loopback.
//
// Every call is bounded by its context and by the service's own timeout
// (WithTimeout), so an unreachable bus or a hanging command ends in an
// error, never a hang. Errors name the service the way String does:
// `systemd unit "ssh.service"` or `command ["/usr/sbin/sshd" "-D" "-e" …]`;
// a failed command's error carries the end of its output.
package service
