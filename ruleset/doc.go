// Package ruleset is knockc's model of the one nftables table it owns: sets,
// chains and rules as plain structs, their deterministic rendering in nft
// syntax, and the pure diff between a wanted and a present table.
//
// The package never talks to the kernel and imports nothing of netlink, so
// the compiler can build models and tests can compare them without root.
// The conversion to google/nftables objects and every netlink call live in
// the subpackage ruleset/nftkernel.
//
// Dynamic sets are state and everything else is config: a set carries the
// elements read back from the kernel (Set.Elements) for plans and status,
// but those never take part in deciding whether a definition changed.
package ruleset
