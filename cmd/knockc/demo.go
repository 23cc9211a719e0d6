//go:build linux

package main

import (
	"errors"
	"os/signal"
	"syscall"

	"github.com/knockc/knockc/internal/demo"
	"github.com/urfave/cli/v2"
)

func demoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "watch knockc work: a door in throwaway network namespaces, scanned, knocked open and closed (needs root; touches nothing on this host)",
		Action: func(c *cli.Context) error {
			ctx, stop := signal.NotifyContext(c.Context, syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			err := demo.Run(ctx, c.App.Writer)
			if errors.Is(err, demo.ErrNeedRoot) {
				return cli.Exit(err.Error(), 1)
			}
			return err
		},
	}
}
