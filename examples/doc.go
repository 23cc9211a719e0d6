// Package examples holds knockc's example specs (knock.toml files), each
// commented for a reader new to knockc. They are embedded so the CLI can
// render the default one without a file and tests can load every one of
// them; every example must load with compiler.Load and compile.
package examples
