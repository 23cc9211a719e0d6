package faults

import (
	"testing"
	"time"
)

// attempt is one connection attempt of the stranger: when it started and
// ended, and whether the handshake completed.
type attempt struct {
	start, end time.Time
	open       bool
}

// exposure is what the stranger's attempts during one run add up to.
type exposure struct {
	longest time.Duration // longest run of completed handshakes, first start to last end
	opens   int           // completed handshakes in all
	tries   int           // attempts in all
	atEnd   bool          // the last attempt still completed: the port was open when the run ended
}

// measure turns the stranger's attempts, in order, into an exposure: a
// window runs from the start of the first of consecutive completed
// handshakes to the end of the last of them; any refused or timed-out
// attempt closes it.
func measure(attempts []attempt) exposure {
	var x exposure
	x.tries = len(attempts)
	var first time.Time
	for i, a := range attempts {
		if !a.open {
			first = time.Time{}
			continue
		}
		x.opens++
		if first.IsZero() {
			first = a.start
		}
		if d := a.end.Sub(first); d > x.longest {
			x.longest = d
		}
		x.atEnd = i == len(attempts)-1
	}
	return x
}

func TestMeasure(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int, open bool) attempt {
		s := t0.Add(time.Duration(ms) * time.Millisecond)
		return attempt{start: s, end: s.Add(time.Millisecond), open: open}
	}
	for _, tc := range []struct {
		name     string
		attempts []attempt
		want     exposure
	}{
		{"none", nil, exposure{}},
		{"all refused", []attempt{at(0, false), at(2, false)}, exposure{tries: 2}},
		{"one open", []attempt{at(0, false), at(2, true), at(4, false)}, exposure{longest: time.Millisecond, opens: 1, tries: 3}},
		{"longest of two runs", []attempt{
			at(0, true), at(2, true), at(4, false),
			at(6, true), at(8, true), at(10, true), at(12, false),
		}, exposure{longest: 5 * time.Millisecond, opens: 5, tries: 7}},
		{"open at the end", []attempt{at(0, false), at(2, true), at(4, true)}, exposure{longest: 3 * time.Millisecond, opens: 2, tries: 3, atEnd: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := measure(tc.attempts); got != tc.want {
				t.Errorf("measure() = %+v, want %+v", got, tc.want)
			}
		})
	}
}
