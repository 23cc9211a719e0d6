package token

import (
	"fmt"
	"time"
)

// Window is how the server installs one key's tokens.
type Window struct {
	Params
	Lifetime time.Duration // an unspent token lives this long after its slot ends
	Skew     time.Duration // how far a client's clock may be off, either way
	Ahead    time.Duration // tokens are installed for slots that start up to this far ahead
}

// SetSize returns the most elements a key's token set holds at once: every
// token of the slots alive at one time, the marker, and two slots more:
// the kernel counts expired elements until its garbage collection (about
// once a second) takes them out, and a full set refuses a top-up.
func (w Window) SetSize() uint32 {
	slots := (w.Lifetime+w.Ahead+w.Slot-1)/w.Slot + 4
	return uint32(int64(slots)*int64(w.PerSlot) + 1)
}

// Mark is a key's high-water mark, kept in the kernel as the comment of
// its marker element: every token of every slot up to Slot, made with
// this slot length, has been installed once.
type Mark struct {
	Slot    int64
	SlotLen time.Duration
	PerSlot int
}

// Comment returns the marker element's comment.
func (m Mark) Comment() string {
	return fmt.Sprintf("knockc tokens through slot=%d len=%dms per=%d", m.Slot, m.SlotLen.Milliseconds(), m.PerSlot)
}

// ParseMark reads a marker's comment; it returns false for anything else.
func ParseMark(comment string) (Mark, bool) {
	var m Mark
	var ms int64
	n, err := fmt.Sscanf(comment, "knockc tokens through slot=%d len=%dms per=%d", &m.Slot, &ms, &m.PerSlot)
	if err != nil || n != 3 || ms <= 0 {
		return Mark{}, false
	}
	m.SlotLen = time.Duration(ms) * time.Millisecond
	if m.Comment() != comment {
		return Mark{}, false
	}
	return m, true
}

// Element is one element to add to a token set.
type Element struct {
	Token   Token
	Timeout time.Duration
	Comment string // the marker's, else empty
}

// TopUp is what apply adds to one key's token set.
type TopUp struct {
	Add           []Element // new tokens, in slot and counter order
	Marker        Element   // the marker with its new mark; replaces the old one
	From, Through int64     // the slots added; From > Through when nothing is due
}

// Due reports whether the top-up adds anything.
func (t TopUp) Due() bool { return t.From <= t.Through }

// Plan returns the tokens to add to a key's set at now, given the mark read
// from the kernel (nil when the set holds no marker: a new set, or one
// whose marker expired together with every token it covered).
//
// Only slots after the mark are added: a token the kernel deleted when it
// was spent is never installed again. A mark made with another slot
// length is ignored, as its tokens never equal this length's. Each token's
// timeout ends Lifetime after its slot ends; the marker's ends with the
// last one's, so a marker disappears only once no token it covers can.
func Plan(secret []byte, w Window, have *Mark, now time.Time) TopUp {
	from := SlotOf(now.Add(-w.Lifetime), w.Slot)
	if have != nil && have.SlotLen == w.Slot && have.Slot+1 > from {
		from = have.Slot + 1
	}
	through := SlotOf(now.Add(w.Ahead), w.Slot)
	t := TopUp{From: from, Through: through}
	if !t.Due() {
		return t
	}
	for s := from; s <= through; s++ {
		timeout := ceilMS(SlotStart(s+1, w.Slot).Add(w.Lifetime).Sub(now))
		for c := 0; c < w.PerSlot; c++ {
			t.Add = append(t.Add, Element{Token: Derive(secret, w.Params, s, c), Timeout: timeout})
		}
	}
	m := Mark{Slot: through, SlotLen: w.Slot, PerSlot: w.PerSlot}
	t.Marker = Element{
		Token:   Marker(secret, w.Door),
		Timeout: ceilMS(SlotStart(through+1, w.Slot).Add(w.Lifetime).Sub(now)),
		Comment: m.Comment(),
	}
	return t
}

// WorksUntil returns when a door whose key is installed through mark stops
// opening for a client whose clock is Skew fast: the end of the last slot
// installed, less the skew.
func (w Window) WorksUntil(m Mark) time.Time {
	return SlotStart(m.Slot+1, w.Slot).Add(-w.Skew)
}

// ceilMS rounds d up to whole milliseconds, the kernel's unit.
func ceilMS(d time.Duration) time.Duration {
	return (d + time.Millisecond - 1).Truncate(time.Millisecond)
}
