package view

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func snap(entries map[Place][]string) Snapshot {
	s := Snapshot{}
	for p, addrs := range entries {
		s[p] = map[netip.Addr]time.Duration{}
		for _, a := range addrs {
			s[p][netip.MustParseAddr(a)] = 5 * time.Second
		}
	}
	return s
}

func TestWatchChangesFollowAKnock(t *testing.T) {
	s1 := Place{Door: "ssh", Kind: "step", Seq: "open", Step: 1}
	s2 := Place{Door: "ssh", Kind: "step", Seq: "open", Step: 2}
	grant := Place{Door: "ssh", Kind: "grant"}
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	steps := []struct {
		name string
		snap Snapshot
		want []string
	}{
		{"first knock", snap(map[Place][]string{s1: {"198.18.0.2"}}), []string{"step open 1"}},
		// The first step's entry stays (it enforces seq_timeout): only the arrival is news.
		{"second knock", snap(map[Place][]string{s1: {"198.18.0.2"}, s2: {"198.18.0.2"}}), []string{"step open 2"}},
		{"last knock", snap(map[Place][]string{grant: {"198.18.0.2"}}), []string{"grant  0"}},
		{"expiry", snap(nil), []string{"grant_ended  0"}},
		{"half a knock", snap(map[Place][]string{s1: {"198.18.0.3"}}), []string{"step open 1"}},
		{"too slow", snap(nil), []string{"left_step open 1"}},
	}
	prev := Snapshot{}
	for _, st := range steps {
		evs := Changes(prev, st.snap, at)
		var got []string
		for _, e := range evs {
			got = append(got, e.Event+" "+e.Sequence+" "+itoa(e.Step))
		}
		if strings.Join(got, ",") != strings.Join(st.want, ",") {
			t.Errorf("%s: Changes = %q, want %q", st.name, got, st.want)
		}
		prev = st.snap
	}
	var b bytes.Buffer
	Changes(Snapshot{}, snap(map[Place][]string{grant: {"198.18.0.2"}}), at)[0].WriteText(&b)
	if want := "10:00:00.000 door ssh 198.18.0.2 granted for 5s\n"; b.String() != want {
		t.Errorf("WriteText = %q, want %q", b.String(), want)
	}
}

func itoa(n int) string {
	return string(rune('0' + n))
}
