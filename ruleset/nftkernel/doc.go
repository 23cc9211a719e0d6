// Package nftkernel is the only part of knockc that talks to the kernel:
// it converts the ruleset model to and from the objects of
// github.com/google/nftables (the only package that imports it), applies a
// table in one netlink batch and reads it back (Conn), moves knockers
// between sets for the monitor, and receives its events (ListenLog, NFLOG)
// and held packets (ListenQueue, NFQUEUE).
//
// The conversion itself is pure: TableObj, SetObj, ChainObj, RuleExprs and
// RuleUserData build a batch's objects, and ParseSet, ParseChain, ParseRule
// and ParseElement turn what the kernel lists back into the model.
//
// RuleExprs writes the expressions nft 1.0.6 generates for the rule's
// rendered text, including nft's implicit dependencies (meta nfproto before
// the first source address match, meta l4proto before a port or flags
// match), so that `nft list table` prints exactly ruleset.Render's text.
// The one exception is a queue statement on a kernel without nft_queue:
// there it becomes the xt NFQUEUE target (see QueueMode), which nft lists
// as nothing.
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
