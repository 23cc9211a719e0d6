// Package nftkernel converts knockc's ruleset model to and from the objects
// of github.com/google/nftables, and is the only package that imports it.
//
// The conversion is pure: nothing here opens a netlink socket. Callers build
// a batch with TableObj, SetObj, ChainObj, RuleExprs and RuleUserData, and
// turn what the kernel lists back into the model with ParseSet, ParseChain,
// ParseRule and ParseElement.
//
// RuleExprs writes the expressions nft 1.0.6 generates for the rule's
// rendered text, including nft's implicit dependencies (meta nfproto before
// the first source address match, meta l4proto before a port or flags
// match), so that `nft list table` prints exactly ruleset.Render's text.
// It refuses rules that could not keep that promise, or that ParseRule could
// not read back as the same model: raw statements; conflicting protocols
// (ip with ip6, tcp with udp), which nft refuses too; a meta l4proto that
// nft would list as part of a later port or flags match; reject with tcp
// reset without an earlier tcp match (nft would add and list a meta l4proto
// tcp); tcp flags nft prints in other words; ct states out of nft's order;
// prefixes with host bits; text nft would print other than Render does.
// For every rule RuleExprs accepts,
// ParseRule(RuleExprs(r), RuleUserData(r.Comment)) equals r.
//
// One difference RuleExprs cannot see: a set with Size 0 that a rule adds
// to is given size 65535 by the kernel, and is listed and read back so.
//
// ParseRule never fails: expressions it does not recognise (a hand edit)
// become ruleset.Raw statements carrying a readable dump, so they show up as
// drift in a plan.
package nftkernel
