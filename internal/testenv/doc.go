// Package testenv holds what every knockc test harness shares: the rule
// that a missing privilege or tool skips a test on a developer's machine
// but fails it under CI=true (Unavailable, RequireRoot), and a locked
// buffer for output written from several goroutines (Buffer). Its
// subpackages are the harnesses themselves: netns (throwaway network
// namespaces), systemdtest (a booted systemd), sshdtest (a real sshd),
// flood (spoofed SYN floods) and specgen (specs of any size). Nothing
// under internal/testenv links into the knockc binary.
package testenv
