// Package logging builds the monitor's slog.Logger: text or JSON on
// stderr, or native journald entries when stderr is the journal (running
// under systemd). In every format durations read as Go durations ("1.5s",
// "120µs"), never as integer nanoseconds. In the journal each entry has
// the PRIORITY of its level (journalctl -p warning finds warnings and
// errors) and every attribute as a field of its own, KNOCKC_DOOR,
// KNOCKC_ADDR, KNOCKC_EVENT… so `journalctl KNOCKC_DOOR=ssh` filters one
// door. docs/operations.md lists the fields.
package logging
