package compiler

import (
	"fmt"
	"path/filepath"
	"sort"
	"time"

	"github.com/knockc/knockc/internal/token"
)

// TokenDoor is a door's [door.NAME.token] section: the door opens for the
// sender of a valid one-time token, checked and spent in the kernel (see
// docs/tokens.md).
type TokenDoor struct {
	Pos      Pos           // of the section
	Port     uint16        // UDP port tokens are sent to
	Keys     []TokenKey    // sorted by name
	Slot     time.Duration // length of a time slot
	PerSlot  int           // tokens each slot has, per key
	Lifetime time.Duration // an unspent token lives this long after its slot ends
	Skew     time.Duration // how far a client's clock may be off, either way
	Ahead    time.Duration // how far ahead apply installs tokens

	pos map[string]func() Pos
}

// TokenKey is one named key: a file holding the secret of one person or
// device.
type TokenKey struct {
	Name string
	Path string // absolute, or relative to the spec's directory as written
	Pos  Pos    // where the key was named
}

// Window returns how apply installs the tokens of door's keys.
func (t *TokenDoor) Window(door string) token.Window {
	return token.Window{
		Params:   token.Params{Door: door, Slot: t.Slot, PerSlot: t.PerSlot},
		Lifetime: t.Lifetime, Skew: t.Skew, Ahead: t.Ahead,
	}
}

// Defaults of a token door.
const (
	DefaultTokenSlot     = 30 * time.Second
	DefaultTokensPerSlot = 8
	DefaultTokenLifetime = 5 * time.Minute
	DefaultTokenSkew     = 5 * time.Minute
	DefaultTokenAhead    = time.Hour
	// maxTokensPerKey bounds a key's set. apply, plan, status and the
	// monitor (every reconcile tick) read each set whole, and the kernel
	// resumes a set dump by walking past the elements already sent, so a
	// read costs time that grows with the square of the set's size
	// (docs/tokens.md, "How many tokens a key").
	maxTokensPerKey = 1 << 15
)

var tokenKeys = []string{"port", "keys", "slot", "per_slot", "lifetime", "skew", "ahead"}

// loadToken decodes [door.NAME.token].
func (l *loader) loadToken(door string, f field) *TokenDoor {
	m, ok := l.table(f, "the door's token settings")
	if !ok {
		return nil
	}
	t := &TokenDoor{
		Pos: f.at(), Slot: DefaultTokenSlot, PerSlot: DefaultTokensPerSlot, Lifetime: DefaultTokenLifetime,
		Skew: DefaultTokenSkew, Ahead: DefaultTokenAhead, pos: map[string]func() Pos{},
	}
	for _, g := range l.fields(f.key+".", m) {
		t.pos[g.name] = g.at
		switch g.name {
		case "port":
			if n, ok := l.integer(g, 1, 65535); ok {
				t.Port = uint16(n)
			}
		case "keys":
			t.Keys = l.tokenKeys(g)
		case "slot":
			if v, ok := l.duration(g, Duration(time.Second), Duration(time.Hour)); ok {
				t.Slot = durationOf(v)
			}
		case "per_slot":
			if n, ok := l.integer(g, 1, token.MaxPerSlot); ok {
				t.PerSlot = int(n)
			}
		case "lifetime":
			if v, ok := l.duration(g, Duration(time.Second), Duration(24*time.Hour)); ok {
				t.Lifetime = durationOf(v)
			}
		case "skew":
			if v, ok := l.duration(g, Duration(time.Second), Duration(time.Hour)); ok {
				t.Skew = durationOf(v)
			}
		case "ahead":
			if v, ok := l.duration(g, Duration(time.Minute), Duration(7*24*time.Hour)); ok {
				t.Ahead = durationOf(v)
			}
		default:
			l.unknownKey(g, "["+f.key+"]", tokenKeys)
		}
	}
	if _, ok := t.pos["port"]; !ok {
		l.errs.add(f.at(), "%s has no port: add e.g. port = 62201 (the UDP port tokens are sent to; nothing may listen on it)", f.key)
	}
	if _, ok := t.pos["keys"]; !ok {
		l.errs.add(f.at(), "%s has no keys: add e.g. keys = { alice = \"/etc/knockc/%s-alice.key\" } and run knockc keygen", f.key, door)
	}
	l.validateToken(f.key, t)
	return t
}

// tokenKeys decodes keys = { NAME = "FILE", ... }.
func (l *loader) tokenKeys(f field) []TokenKey {
	m, ok := l.table(f, `NAME = "FILE" pairs`)
	if !ok {
		return nil
	}
	if len(m) == 0 {
		l.errs.add(f.at(), "%s is empty: name at least one key, e.g. { alice = \"alice.key\" }", f.key)
	}
	var out []TokenKey
	for _, g := range l.fields(f.key+".", m) {
		if !token.NameRE.MatchString(g.name) || len(g.name) > token.MaxNameLen {
			l.errs.add(l.keyPos(g), "key name %q is not allowed: lower-case letters, digits and _, starting with a letter, at most %d (it names a set in the kernel)", g.name, token.MaxNameLen)
			continue
		}
		path, ok := l.str(g)
		if !ok {
			continue
		}
		if path == "" {
			l.errs.add(g.at(), "%s: the key file's path is empty", g.key)
			continue
		}
		if !filepath.IsAbs(path) {
			path = filepath.Join(filepath.Dir(l.file), path)
		}
		out = append(out, TokenKey{Name: g.name, Path: path, Pos: g.at()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// validateToken checks how the timing keys relate.
func (l *loader) validateToken(key string, t *TokenDoor) {
	at := func(k string) Pos {
		if p, ok := t.pos[k]; ok {
			return p()
		}
		return t.Pos
	}
	if t.Lifetime < t.Skew {
		l.errs.add(at("lifetime"), "%s: lifetime %s is shorter than skew %s: a client whose clock is that slow would send tokens already gone", key, shortDuration(Duration(t.Lifetime)), shortDuration(Duration(t.Skew)))
	}
	lead := time.Duration(token.LeadSlots(t.Slot)) * t.Slot
	if need := t.Skew + 2*lead + 2*t.Slot; t.Ahead < need {
		l.errs.add(at("ahead"), "%s: ahead %s is too short: a client whose clock is skew fast and that starts afresh (a lead of %s) needs tokens %s ahead", key, shortDuration(Duration(t.Ahead)), shortDuration(Duration(lead)), shortDuration(Duration(need)))
	}
	if n := t.Window("").SetSize(); n > maxTokensPerKey {
		l.errs.add(at("ahead"), "%s: %d tokens a key would be installed at once (at most %d, as apply, plan and the monitor read each key's set whole): make slot longer, per_slot smaller or ahead shorter", key, n, maxTokensPerKey)
	}
}

// validateTokenDoor checks a token door against the rest of its door.
func validateTokenDoor(d *Door, errs *errorList) {
	t := d.Token
	if t == nil {
		return
	}
	if len(d.Sequence) > 0 {
		errs.add(d.at("sequence"), "door %q: opens by token, so it takes no sequence (a sequence can be replayed by anyone who saw it; make a second door for it)", d.Name)
	}
	if len(d.CloseSequence) > 0 {
		errs.add(d.at("close_sequence"), "door %q: a token door takes no close_sequence: anyone who saw it could close the door for everyone; grants end after open_for", d.Name)
	}
	for _, p := range d.Protect {
		if p.Proto.String() == "udp" && p.Port == t.Port {
			errs.add(d.at("token"), "door %q: token port %d/udp is also a protected port; nothing may listen on the token port", d.Name, t.Port)
		}
	}
}

// validateTokenPorts rejects a token port another door uses.
func validateTokenPorts(doors []*Door, errs *errorList) {
	for _, d := range doors {
		if d.Token == nil {
			continue
		}
		for _, o := range doors {
			if o == d {
				continue
			}
			if o.Token != nil && o.Token.Port == d.Token.Port && o.Name < d.Name {
				errs.add(d.at("token"), "door %q: token port %d is door %q's token port too", d.Name, d.Token.Port, o.Name)
			}
			for _, s := range append(append(append([]Step{}, o.Sequence...), o.CloseSequence...), o.Protect...) {
				if s.Proto.String() == "udp" && s.Port == d.Token.Port {
					errs.add(d.at("token"), "door %q: token port %d/udp is used by door %q as %s", d.Name, d.Token.Port, o.Name, s)
				}
			}
		}
	}
}

// TokenKeys reads every key file the spec's token doors name, refusing a
// file others may read (as ssh does) and one made for another door or
// with other timing than the spec's. Errors carry the position where the
// key was named. It returns the keys by door and key name.
func TokenKeys(spec *Spec) (map[string]map[string]*token.Key, error) {
	out := map[string]map[string]*token.Key{}
	var errs errorList
	for _, d := range spec.Doors {
		if d.Token == nil {
			continue
		}
		out[d.Name] = map[string]*token.Key{}
		for _, tk := range d.Token.Keys {
			k, err := token.ReadKey(tk.Path)
			if err != nil {
				errs.add(tk.Pos, "door %q key %q: %v", d.Name, tk.Name, err)
				continue
			}
			if msg := keyMismatch(d, tk.Name, k); msg != "" {
				errs.add(tk.Pos, "door %q key %q: %s holds %s; make a new one with knockc keygen", d.Name, tk.Name, tk.Path, msg)
				continue
			}
			out[d.Name][tk.Name] = k
		}
	}
	if err := errs.join(); err != nil {
		return nil, err
	}
	return out, nil
}

// keyMismatch says how a key file disagrees with the door, or "".
func keyMismatch(d *Door, name string, k *token.Key) string {
	t := d.Token
	switch {
	case k.Door != d.Name || k.Name != name:
		return fmt.Sprintf("the key %q of door %q", k.Name, k.Door)
	case k.Port != t.Port:
		return fmt.Sprintf("port %d, not %d", k.Port, t.Port)
	case k.Slot != t.Slot:
		return fmt.Sprintf("slot %s, not %s", k.Slot, t.Slot)
	case k.PerSlot != t.PerSlot:
		return fmt.Sprintf("per_slot %d, not %d", k.PerSlot, t.PerSlot)
	}
	return ""
}
