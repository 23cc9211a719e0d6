//go:build linux

package main

import (
	"fmt"
	"strings"

	"github.com/knockc/knockc/internal/hostnet"
	"github.com/knockc/knockc/internal/view"
	"github.com/urfave/cli/v2"
)

// missingInterfaces returns the names of table.interfaces that do not
// exist in the namespace the command works in (--netns, or the caller's).
func missingInterfaces(c *cli.Context, listed []string) ([]string, []string, error) {
	if len(listed) == 0 {
		return nil, nil, nil
	}
	present, err := hostnet.Interfaces(c.String("netns"))
	if err != nil {
		return nil, nil, err
	}
	return hostnet.Missing(listed, present), present, nil
}

// warnInterfaces prints a warning on stderr for each interface the spec
// lists that does not exist here: knocks could never arrive on it. The
// protected ports stay closed everywhere regardless (docs/stealth.md).
func warnInterfaces(c *cli.Context, listed []string) {
	missing, present, err := missingInterfaces(c, listed)
	if err != nil {
		fmt.Fprintf(c.App.ErrWriter, "knockc: warning: cannot check table.interfaces: %v\n", err)
		return
	}
	for _, m := range missing {
		fmt.Fprintf(c.App.ErrWriter, "knockc: warning: %s (interfaces here: %s)\n", view.MissingInterface(m), strings.Join(present, ", "))
	}
}
