package monitor

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"strings"

	"github.com/knockc/knockc/ruleset"
)

// hook runs a door's on_open/on_close argv in the background, without a
// shell, bounded by the hook timeout. The door, event, address and family
// come in the environment (KNOCKC_DOOR, KNOCKC_EVENT, KNOCKC_ADDR,
// KNOCKC_FAMILY), and for an open by token the key's name (KNOCKC_KEY). A
// failing hook is logged and changes nothing else.
func (d *door) hook(argv []string, event string, addr netip.Addr, key string) {
	if len(argv) == 0 {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), d.m.cfg.HookTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Env = append(os.Environ(),
			"KNOCKC_DOOR="+d.spec.Name,
			"KNOCKC_EVENT="+event,
			"KNOCKC_ADDR="+addr.String(),
			"KNOCKC_FAMILY="+ruleset.FamilyOf(addr).String(),
		)
		if key != "" {
			cmd.Env = append(cmd.Env, "KNOCKC_KEY="+key)
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			d.log.Warn("hook failed", "event", event, "addr", addr, "argv", argv, "err", err, "output", strings.TrimSpace(string(out)))
			return
		}
		d.log.Debug("hook ran", "event", event, "addr", addr, "argv", argv)
	}()
}
