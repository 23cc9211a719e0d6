// Package topup installs the tokens of a spec's token doors in the kernel
// and reports how long each door keeps working without another top-up. It
// joins the pure halves (compiler's token doors, the token package's
// derivation and plan) to the kernel's token sets (nftkernel); apply, plan,
// status and the monitor all go through it. See docs/tokens.md.
package topup

import (
	"errors"
	"fmt"
	"time"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/internal/token"
	"github.com/knockc/knockc/ruleset/nftkernel"
)

// Kernel is what a top-up needs of nf_tables; nftkernel.Conn has it.
type Kernel interface {
	Generation() (uint32, error)
	TokenElements(table, set string) ([]nftkernel.TokenElement, error)
	TokenElement(table, set string, key [16]byte) (*nftkernel.TokenElement, error)
	AddTokens(table string, gen uint32, adds []nftkernel.TokenAdd) error
}

// Keys are the key files of a spec's token doors, by door and key name
// (compiler.TokenKeys).
type Keys map[string]map[string]*token.Key

// Key is one key's tokens in the kernel, after the top-up (or, for a dry
// run, as they would be).
type Key struct {
	Door, Key string
	Set       string    // the key's token set
	Unspent   int       // tokens in the set now, the marker left out
	Added     int       // tokens this top-up adds (or, dry, would add)
	Through   time.Time // end of the last slot installed
	Works     time.Time // when a client up to skew fast stops opening, without a top-up
}

// Left returns how long from now the key keeps opening its door without a
// top-up.
func (k Key) Left(now time.Time) time.Duration { return max(0, k.Works.Sub(now)) }

// ErrNoMark is wrapped when a key's set holds tokens but no high-water
// marker: a top-up then refuses, so as never to install a spent token again.
var ErrNoMark = errors.New("token set without a high-water marker")

// attempts bounds the retries when another writer commits in between.
const attempts = 10

// Run tops up every token door of spec at now in one batch per attempt and
// returns each key's state; with dryRun it only reads and reports what a
// top-up would add. A table without a key's set (not applied yet) fails.
func Run(k Kernel, spec *compiler.Spec, keys Keys, now time.Time, dryRun bool) ([]Key, error) {
	return RunFrom(k, spec, keys, now, dryRun, nil)
}

// Before is what a key's set held before a batch that may recreate it
// (ReadBefore): its high-water mark and its unspent tokens.
type Before struct {
	Mark   *token.Mark
	Tokens []nftkernel.TokenElement // Expires as at ReadAt
	ReadAt time.Time
}

// Carry is Before by token set name.
type Carry map[string]Before

// ReadBefore reads every key's set before apply sends a batch. A batch
// that recreates a token set (its size changed with per_slot, lifetime or
// ahead) empties it, marker included; the next top-up (RunFrom) then puts
// the unspent tokens back and starts new ones above the old mark, so no
// spent token comes back and no unspent one is lost. A token spent in the
// milliseconds between this read and the batch would come back; docs/tokens.md
// says so.
func ReadBefore(k Kernel, spec *compiler.Spec, keys Keys) Carry {
	out := Carry{}
	for _, d := range spec.Doors {
		if d.Token == nil {
			continue
		}
		for _, tk := range d.Token.Keys {
			key := keys[d.Name][tk.Name]
			if key == nil {
				continue
			}
			set := compiler.TokenSet(d.Name, tk.Name)
			marker := token.Marker(key.Secret, d.Name)
			me, err := k.TokenElement(spec.Table.Name, set, marker)
			if err != nil || me == nil {
				continue // no table or set yet, or no marker: nothing to carry
			}
			m, ok := token.ParseMark(me.Comment)
			if !ok {
				continue
			}
			b := Before{Mark: &m, ReadAt: time.Now()}
			elems, err := k.TokenElements(spec.Table.Name, set)
			if err != nil {
				continue
			}
			for _, e := range elems {
				if token.Token(e.Key) != marker {
					b.Tokens = append(b.Tokens, e)
				}
			}
			out[set] = b
		}
	}
	return out
}

// RunFrom is Run after a batch that may have recreated token sets: a set
// found without a marker that had one before (in carry) gets its unspent
// tokens back and new ones only above the old mark.
func RunFrom(k Kernel, spec *compiler.Spec, keys Keys, now time.Time, dryRun bool, carry Carry) ([]Key, error) {
	for try := 1; ; try++ {
		out, err := runOnce(k, spec, keys, now, dryRun, carry)
		if errors.Is(err, nftkernel.ErrConflict) && try < attempts {
			continue
		}
		return out, err
	}
}

func runOnce(k Kernel, spec *compiler.Spec, keys Keys, now time.Time, dryRun bool, carry Carry) ([]Key, error) {
	gen, err := k.Generation()
	if err != nil {
		return nil, fmt.Errorf("top up tokens: %w", err)
	}
	var out []Key
	var adds []nftkernel.TokenAdd
	for _, d := range spec.Doors {
		if d.Token == nil {
			continue
		}
		w := d.Token.Window(d.Name)
		for _, tk := range d.Token.Keys {
			key := keys[d.Name][tk.Name]
			if key == nil {
				return nil, fmt.Errorf("top up tokens: door %q key %q: key file not read", d.Name, tk.Name)
			}
			set := compiler.TokenSet(d.Name, tk.Name)
			elems, err := k.TokenElements(spec.Table.Name, set)
			if err != nil && dryRun {
				continue // not applied yet: the plan creates the set
			}
			if err != nil {
				return nil, fmt.Errorf("top up tokens: door %q key %q: %w", d.Name, tk.Name, err)
			}
			marker := token.Marker(key.Secret, d.Name)
			st := Key{Door: d.Name, Key: tk.Name, Set: set}
			for _, e := range elems {
				if token.Token(e.Key) != marker {
					st.Unspent++
				}
			}
			// The mark is read by key, never from the dump: a dump can
			// skip elements (nftkernel.Conn.TokenElement says why).
			me, err := k.TokenElement(spec.Table.Name, set, marker)
			if err != nil {
				return nil, fmt.Errorf("top up tokens: door %q key %q: %w", d.Name, tk.Name, err)
			}
			var have *token.Mark
			if me != nil {
				m, ok := token.ParseMark(me.Comment)
				if !ok {
					return nil, fmt.Errorf("top up tokens: door %q key %q: the high-water marker of set %q reads %q, not a mark; not topping up", d.Name, tk.Name, set, me.Comment)
				}
				have = &m
			} else if st.Unspent > 0 {
				// Tokens outlive no marker (its timeout ends with the last
				// slot's), so tokens without one mean the marker was taken
				// out (sent as a token by its key's holder). Starting again
				// could put spent tokens back: wait until these expire.
				return nil, fmt.Errorf("top up tokens: door %q key %q: set %q holds %d tokens but no high-water marker; not topping up until they expire, as that could install spent tokens again: %w", d.Name, tk.Name, set, st.Unspent, ErrNoMark)
			}
			bound := have
			var back []nftkernel.TokenElement
			if b, ok := carry[set]; ok && have == nil && st.Unspent == 0 && b.Mark.SlotLen == w.Slot {
				// Recreated by the batch just sent: the old mark bounds the
				// new tokens, and the old unspent ones come back with the
				// time they had left.
				bound = b.Mark
				for _, e := range b.Tokens {
					if left := e.Expires - now.Sub(b.ReadAt); left > time.Millisecond {
						back = append(back, nftkernel.TokenElement{Key: e.Key, Timeout: left.Truncate(time.Millisecond)})
					}
				}
				st.Added += len(back)
			}
			plan := token.Plan(key.Secret, w, bound, now)
			last := token.Mark{SlotLen: w.Slot}
			switch {
			case plan.Due():
				last.Slot = plan.Through
			case bound != nil:
				last = *bound
			default:
				last.Slot = plan.Through
			}
			st.Through = token.SlotStart(last.Slot+1, w.Slot)
			st.Works = w.WorksUntil(last)
			st.Added += len(plan.Add)
			out = append(out, st)
			if !plan.Due() {
				if have == nil && bound != nil {
					// A recreated set with nothing new due: it gets its old
					// tokens and must still remember the old mark, or the
					// next top-up would start from the live window.
					if left := token.SlotStart(bound.Slot+1, w.Slot).Add(w.Lifetime).Sub(now); left > 0 {
						back = append(back, nftkernel.TokenElement{Key: marker, Timeout: left.Truncate(time.Millisecond) + time.Millisecond, Comment: bound.Comment()})
						adds = append(adds, nftkernel.TokenAdd{Set: set, Add: back})
					}
				}
				continue
			}
			a := nftkernel.TokenAdd{Set: set, Add: back}
			if have != nil {
				m := [16]byte(marker)
				a.DelMarker = &m
			}
			for _, e := range plan.Add {
				a.Add = append(a.Add, nftkernel.TokenElement{Key: e.Token, Timeout: e.Timeout})
			}
			a.Add = append(a.Add, nftkernel.TokenElement{Key: plan.Marker.Token, Timeout: plan.Marker.Timeout, Comment: plan.Marker.Comment})
			adds = append(adds, a)
		}
	}
	if dryRun || len(adds) == 0 {
		return out, nil
	}
	if err := k.AddTokens(spec.Table.Name, gen, adds); err != nil {
		return nil, fmt.Errorf("top up tokens: %w", err)
	}
	return out, nil
}
