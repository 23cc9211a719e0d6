// Package compiler turns a knock spec (knock.toml) into knockc's ruleset
// model. It loads and validates the spec, reporting every problem at once
// with its file:line:col, and compiles the doors into the table described
// in docs/design.md ("The ruleset"): per-step dynamic sets with timeouts, one chain per knock
// sequence whose rules run last step first, and a gate chain per door.
//
// The package is pure: it never opens netlink or touches the kernel (a test
// checks its dependency list), so `knockc check` and `knockc render` work
// without root and everything here is covered by fast golden tests.
package compiler
