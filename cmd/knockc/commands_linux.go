package main

import "github.com/urfave/cli/v2"

// kernelCommands are the commands that talk to the kernel (nf_tables,
// NFLOG, NFQUEUE, network namespaces): Linux only.
func kernelCommands() []*cli.Command {
	return []*cli.Command{
		planCommand(),
		applyCommand(),
		statusCommand(),
		watchCommand(),
		traceCommand(),
		downCommand(),
		monitorCommand(),
		demoCommand(),
	}
}
