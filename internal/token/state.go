package token

import (
	"bytes"
	"fmt"
	"os"
	"time"
)

// Pair names one token: a slot and a counter within it.
type Pair struct {
	Slot    int64
	Counter int
}

// next returns the pair after p with per tokens a slot.
func (p Pair) next(per int) Pair {
	if p.Counter+1 >= per {
		return Pair{p.Slot + 1, 0}
	}
	return Pair{p.Slot, p.Counter + 1}
}

// LeadSlots is how many slots past its own clock's a client may use: one
// minute's worth, at least one. It lets a client open 20 times a minute
// with few tokens a slot, and it bounds where a client that lost its state
// starts again (see Choose).
func LeadSlots(slot time.Duration) int64 {
	return max(1, int64((time.Minute+slot-1)/slot))
}

// Choose returns the token pair a client sends at now and the pair it
// keeps for next time. have is the kept pair, nil when the state is lost.
//
// Pairs only go up, so a client never sends a pair twice: the kept pair,
// or the current slot's first when the clock has moved past it. A client
// without state cannot know what it sent before. A client that keeps its
// state stays within LeadSlots of its clock unless it started afresh in
// the last minute, so one without state starts just beyond that lead and
// loses no attempt (a second loss within a minute of the first may cost
// the tokens sent in between). It fails when the next pair lies more than
// twice the lead ahead of the clock.
func Choose(have *Pair, per int, slot time.Duration, now time.Time) (use, keep Pair, err error) {
	ns := SlotOf(now, slot)
	lead := LeadSlots(slot)
	limit := ns + 2*lead + 1
	switch {
	case have == nil:
		use = Pair{ns + lead + 1, 0}
	case have.Slot < ns:
		use = Pair{ns, 0}
	default:
		use = *have
	}
	if use.Slot > limit {
		return Pair{}, Pair{}, fmt.Errorf("every token up to %s is used; wait %s", SlotStart(use.Slot, slot).UTC().Format(time.TimeOnly), SlotStart(use.Slot-2*lead-1, slot).Sub(now).Round(time.Second))
	}
	return use, use.next(per), nil
}

// stateLine is the text of a state file.
const stateLine = "knockc-token-state v1 door=%s name=%s next=%d:%d\n"

// Take picks the token to send now with k and records the next pair in
// the state file at path before returning, under an exclusive lock: even
// if sending fails or two clients run at once, no token is sent twice. A
// missing, unreadable or foreign state file counts as lost (see Choose).
func Take(path string, k *Key, now time.Time) (Token, Pair, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return Token{}, Pair{}, fmt.Errorf("token state: %w", err)
	}
	defer f.Close()
	if err := lock(f); err != nil {
		return Token{}, Pair{}, fmt.Errorf("token state %q: lock: %w", path, err)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(f); err != nil {
		return Token{}, Pair{}, fmt.Errorf("token state %q: %w", path, err)
	}
	var have *Pair
	var door, name string
	var p Pair
	if n, err := fmt.Sscanf(buf.String(), stateLine, &door, &name, &p.Slot, &p.Counter); err == nil && n == 4 && door == k.Door && name == k.Name {
		have = &p
	}
	use, keep, err := Choose(have, k.PerSlot, k.Slot, now)
	if err != nil {
		return Token{}, Pair{}, err
	}
	line := fmt.Sprintf(stateLine, k.Door, k.Name, keep.Slot, keep.Counter)
	if err := f.Truncate(0); err != nil {
		return Token{}, Pair{}, fmt.Errorf("token state %q: %w", path, err)
	}
	if _, err := f.WriteAt([]byte(line), 0); err != nil {
		return Token{}, Pair{}, fmt.Errorf("token state %q: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return Token{}, Pair{}, fmt.Errorf("token state %q: %w", path, err)
	}
	return Derive(k.Secret, k.Params(), use.Slot, use.Counter), use, nil
}
