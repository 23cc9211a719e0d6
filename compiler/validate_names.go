package compiler

import (
	"slices"
	"strings"
)

// validateNames rejects doors whose kernel objects would share a name.
// Names join a door's name and a suffix with "_", and a token key's name
// is free text after "_tok_" (TokenSet), so door "x" with key "grant_v4"
// and door "x_tok" both name a set "x_tok_grant_v4": check passed such a
// spec and the kernel refused its batch ("file exists") at apply. Each
// door is compiled on its own (Compile is pure and cheap) and the names
// of its sets and regular chains are compared with every other door's.
// It runs only on a spec with no other problem, as Compile needs one, and
// only when a door has token keys: every other name is a door's name and
// a fixed suffix no door name can end in, and compiling every door of a
// thousand-door spec once more doubled its parse time.
func validateNames(spec *Spec, errs *errorList) {
	if !slices.ContainsFunc(spec.Doors, func(d *Door) bool { return d.Token != nil }) {
		return
	}
	seen := map[string]*Door{}
	for _, d := range spec.Doors {
		t := Compile(&Spec{File: spec.File, Table: spec.Table, Doors: []*Door{d}})
		var names []string
		for _, s := range t.Sets {
			if s.Name != MidSet(s.Family) {
				names = append(names, "set "+s.Name)
			}
		}
		for _, c := range t.Chains {
			if c.Hook == nil && c.Name != DoorsChain && c.Name != AllDoorsChain && c.Name != StealthAnswersChain && c.Name != AnswerPortChain && !strings.HasPrefix(c.Name, "stealth_port_") {
				names = append(names, "chain "+c.Name)
			}
		}
		for _, name := range names {
			switch o := seen[name]; {
			case o == nil:
				seen[name] = d
			case o != d:
				errs.add(nameAt(d, name), "door %q: its %s has the name of door %q's (names join the door's and a key's with _); rename one of the doors or the key", d.Name, name, o.Name)
			}
		}
	}
}

// nameAt returns where the object name of door d comes from: the token
// key it is named after, or the door's header.
func nameAt(d *Door, name string) Pos {
	if d.Token != nil {
		for _, k := range d.Token.Keys {
			if name == "set "+TokenSet(d.Name, k.Name) {
				return k.Pos
			}
		}
	}
	return d.Pos
}
