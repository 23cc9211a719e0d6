// Package monitor is the small daemon behind managed doors (and the hooks
// of any door). The kernel does all per-packet work; the monitor only hears
// about completed sequences (NFLOG events logged by the last step's rule)
// and sees the packets of pending knockers (held in NFQUEUE), and then:
//
//   - on an open, starts the door's service and waits until it is up, then
//     moves the knocker from the pending set to the grant set with the
//     door's open_for, and runs on_open;
//   - holds a pending knocker's packets to the protected ports while the
//     service starts and lets them go as soon as the grant is in place, so
//     its first SYN connects; a packet held longer than start_timeout is
//     answered like a closed port;
//   - on a close (the kernel has already removed the grant), runs on_close
//     and stops the service once no grant is left;
//   - when the last grant of a door expires, stops the service (unless the
//     door says stop_when_idle = false);
//   - at start and periodically, reconciles from the kernel's sets: pending
//     knockers whose event was lost are served, grants whose service is not
//     running get it started, services with no grant left are stopped.
//
// So a crash, a restart or a lost event never leaves a knocker locked out
// or a door open past its time. Established sessions never depend on the
// monitor: the kernel lets them through before any door rule.
package monitor
