//go:build linux

package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/internal/hostnet"
	"github.com/knockc/knockc/internal/view"
	"github.com/knockc/knockc/ruleset"
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

// checkAnswerPort refuses to go on when something listens on the answer
// port of table want in the command's namespace: every non-granted packet
// for a protected port would reach it (docs/stealth.md). Port 0, the
// default, is never bound, so it is not looked up.
func checkAnswerPort(c *cli.Context, want *ruleset.Table) error {
	port, ok := compiler.AnswerPort(want)
	if !ok || port == 0 {
		return nil
	}
	found, err := hostnet.Listeners(c.String("netns"), port)
	if err != nil {
		return fmt.Errorf("check table.answer_port %d: %w", port, err)
	}
	if len(found) > 0 {
		return cli.Exit(fmt.Sprintf("table.answer_port = %d: something listens there (%s), so non-granted packets for protected ports would reach it; nothing was changed. Pick a port nothing listens on, or leave answer_port out (port 0, which no program can bind)", port, strings.Join(found, ", ")), 1)
	}
	return nil
}

// watchAnswerPort logs an error, at start and then every interval until
// ctx ends, while something listens on the answer port of table want (a
// service started after apply): it would receive the packets knockc hands
// the stack for protected ports. Port 0, the default, cannot be bound.
func watchAnswerPort(ctx context.Context, want *ruleset.Table, log *slog.Logger, every time.Duration) {
	port, ok := compiler.AnswerPort(want)
	if !ok || port == 0 {
		return
	}
	if every <= 0 {
		every = 2 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		found, err := hostnet.Listeners("", port)
		switch {
		case err != nil:
			log.Warn("cannot check the answer port", "port", port, "err", err)
		case len(found) > 0:
			log.Error("something listens on table.answer_port: non-granted packets for protected ports reach it; stop it or change answer_port", "port", port, "sockets", strings.Join(found, ", "))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
