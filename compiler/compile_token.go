package compiler

import (
	"fmt"
	"strings"

	"github.com/knockc/knockc/internal/token"
	"github.com/knockc/knockc/ruleset"
)

// TokenChain returns the chain that checks and spends a door's tokens.
func TokenChain(door string) string { return door + "_token" }

// TokenSet returns the set that holds the unspent tokens of one key.
func TokenSet(door, key string) string { return door + "_tok_" + key }

// TokenLogPrefix returns the NFLOG prefix of an open by a key's token:
// the open event's prefix followed by the key's name.
func TokenLogPrefix(door, key string) string { return LogPrefix(door, Open) + " " + key }

// ParseTokenLogPrefix returns the door and key named by a token open's
// NFLOG prefix, and false for any other prefix.
func ParseTokenLogPrefix(p string) (door, key string, ok bool) {
	rest, ok := strings.CutPrefix(p, "knockc "+string(Open)+" ")
	if !ok {
		return "", "", false
	}
	door, key, ok = strings.Cut(rest, " ")
	if !ok || !doorNameRE.MatchString(door) || !token.NameRE.MatchString(key) {
		return "", "", false
	}
	return door, key, true
}

// tokenSets adds one token set per key: typeof @th,64,128, each element
// with its own timeout, sized for every token alive at once.
func (c *doorCompiler) tokenSets() {
	t := c.door.Token
	f := ruleset.TokenField
	size := t.Window(c.door.Name).SetSize()
	for _, k := range t.Keys {
		c.newSet(&ruleset.Set{Name: TokenSet(c.door.Name, k.Name), Typeof: &f, Size: size})
	}
}

// tokenChain builds the chain that opens a token door: per key and
// family, a datagram to the token port whose first 16 payload bytes are
// an unspent token of that key deletes the token and grants its sender,
// all in the kernel. The family is matched first, so the IPv4 rule never
// spends an IPv6 sender's token. Nothing is dropped or answered: the
// datagram goes on to the stack, which answers it like any closed port.
func (c *doorCompiler) tokenChain() *ruleset.Chain {
	d := c.door
	t := d.Token
	chain := &ruleset.Chain{Name: TokenChain(d.Name)}
	field := ruleset.TokenField
	for _, k := range t.Keys {
		set := TokenSet(d.Name, k.Name)
		for _, f := range d.Families {
			st := []ruleset.Stmt{
				ruleset.NFProto{Family: f},
				ruleset.DPort{Proto: ruleset.UDP, Port: t.Port},
				ruleset.PayloadIn{Field: field, Set: set},
				ruleset.SetPayload{Op: ruleset.OpDelete, Set: set, Field: field},
			}
			st = append(st, c.outcome(Open, f)...)
			st = append(st, ruleset.Log{Prefix: TokenLogPrefix(d.Name, k.Name), Group: c.table.LogGroup}, ruleset.Verdict{Kind: ruleset.VerdictReturn})
			chain.Rules = append(chain.Rules, rule(fmt.Sprintf("door=%s key=%s role=token", d.Name, k.Name), st...))
		}
	}
	return chain
}
