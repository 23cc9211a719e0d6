//go:build !linux

package main

import "github.com/urfave/cli/v2"

// kernelCommands is empty off Linux: there knockc checks and renders specs,
// imports knockd configurations and knocks (e.g. from a laptop).
func kernelCommands() []*cli.Command { return nil }
