package token

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func testSecret() []byte {
	b := make([]byte, SecretSize)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// TestDeriveVector pins the construction documented in docs/tokens.md, so
// a client written elsewhere can check itself against it.
func TestDeriveVector(t *testing.T) {
	p := Params{Door: "ssh", Slot: 30 * time.Second, PerSlot: 8}
	got := Derive(testSecret(), p, 58000000, 3)
	const want = "2dfcf943527ffdaad0e43e64e0e979c4"
	if hex.EncodeToString(got[:]) != want {
		t.Errorf("Derive(0x00..1f, ssh, 30s, 58000000, 3) = %x, want %s", got, want)
	}
}

func TestDeriveInputsMatter(t *testing.T) {
	s := testSecret()
	p := Params{Door: "ssh", Slot: 30 * time.Second, PerSlot: 8}
	base := Derive(s, p, 100, 0)
	other := testSecret()
	other[0] ^= 1
	for name, tok := range map[string]Token{
		"counter":     Derive(s, p, 100, 1),
		"slot":        Derive(s, p, 101, 0),
		"door":        Derive(s, Params{Door: "web", Slot: p.Slot}, 100, 0),
		"slot length": Derive(s, Params{Door: "ssh", Slot: time.Minute}, 100, 0),
		"secret":      Derive(other, p, 100, 0),
		"marker":      Marker(s, "ssh"),
	} {
		if tok == base {
			t.Errorf("changing the %s left the token unchanged", name)
		}
	}
	if Derive(s, p, 100, 0) != base {
		t.Error("Derive is not deterministic")
	}
}

func TestSlotOf(t *testing.T) {
	for _, tc := range []struct {
		ms   int64
		want int64
	}{{0, 0}, {29999, 0}, {30000, 1}, {-1, -1}, {-30000, -1}, {-30001, -2}} {
		if got := SlotOf(time.UnixMilli(tc.ms), 30*time.Second); got != tc.want {
			t.Errorf("SlotOf(%dms, 30s) = %d, want %d", tc.ms, got, tc.want)
		}
	}
}

// TestPlanNeverReinstalls runs top-ups over two hours at odd intervals,
// carrying the mark from one to the next as the kernel would, and checks
// that no token is ever installed twice and that tokens due now are there.
func TestPlanNeverReinstalls(t *testing.T) {
	w := Window{Params: Params{Door: "ssh", Slot: 30 * time.Second, PerSlot: 4}, Lifetime: 5 * time.Minute, Skew: 5 * time.Minute, Ahead: 20 * time.Minute}
	s := testSecret()
	now := time.Unix(1_800_000_000, 123e6)
	seen := map[Token]bool{}
	var mark *Mark
	for step := 0; step < 200; step++ {
		tu := Plan(s, w, mark, now)
		for _, e := range tu.Add {
			if seen[e.Token] {
				t.Fatalf("step %d: token installed twice", step)
			}
			seen[e.Token] = true
			if e.Timeout <= 0 || e.Timeout > w.Ahead+w.Lifetime+w.Slot {
				t.Fatalf("step %d: timeout %v out of range", step, e.Timeout)
			}
		}
		if tu.Due() {
			m, ok := ParseMark(tu.Marker.Comment)
			if !ok || m.Slot != tu.Through {
				t.Fatalf("step %d: marker comment %q does not parse back to slot %d", step, tu.Marker.Comment, tu.Through)
			}
			mark = &m
		}
		ns := SlotOf(now, w.Slot)
		for c := 0; c < w.PerSlot; c++ {
			if !seen[Derive(s, w.Params, ns, c)] {
				t.Fatalf("step %d: token %d of the current slot never installed", step, c)
			}
		}
		now = now.Add(time.Duration(7+step%90) * time.Second)
	}
	if got := Plan(s, w, mark, now.Add(-time.Hour)); got.Due() {
		t.Errorf("Plan with a clock gone back added %d tokens below the mark", len(got.Add))
	}
}

func TestPlanIgnoresOtherSlotLength(t *testing.T) {
	w := Window{Params: Params{Door: "ssh", Slot: 30 * time.Second, PerSlot: 2}, Lifetime: time.Minute, Ahead: 10 * time.Minute}
	now := time.Unix(1_800_000_000, 0)
	m := Mark{Slot: SlotOf(now, w.Slot) + 100, SlotLen: time.Minute, PerSlot: 2}
	if !Plan(testSecret(), w, &m, now).Due() {
		t.Error("a mark of another slot length blocked the top-up")
	}
	m.SlotLen = w.Slot
	if Plan(testSecret(), w, &m, now).Due() {
		t.Error("a mark beyond the window did not block the top-up")
	}
}

func TestChoose(t *testing.T) {
	slot := 30 * time.Second
	now := time.Unix(1_800_000_000, 0)
	ns := SlotOf(now, slot)
	use, keep, err := Choose(nil, 8, slot, now)
	if err != nil || use != (Pair{ns + LeadSlots(slot) + 1, 0}) || keep != (Pair{use.Slot, 1}) {
		t.Fatalf("Choose(lost state) = %v, %v, %v; want start beyond the lead", use, keep, err)
	}
	// A busy client: strictly increasing pairs, 20 in one instant.
	var have *Pair
	prev := Pair{-1, 0}
	for i := 0; i < 20; i++ {
		use, keep, err := Choose(have, 8, slot, now)
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		if use.Slot < prev.Slot || (use.Slot == prev.Slot && use.Counter <= prev.Counter) {
			t.Fatalf("open %d: pair %v does not follow %v", i, use, prev)
		}
		prev, have = use, &keep
	}
	far := Pair{ns + 2*LeadSlots(slot) + 2, 0}
	if _, _, err := Choose(&far, 8, slot, now); err == nil {
		t.Error("Choose went further ahead than the lead")
	}
	old := Pair{ns - 10, 3}
	if use, _, _ := Choose(&old, 8, slot, now); use != (Pair{ns, 0}) {
		t.Errorf("Choose(stale state) = %v, want the current slot's first", use)
	}
}

func testKey() *Key {
	return &Key{Door: "ssh", Name: "alice", Secret: testSecret(), Port: 62201, Slot: 30 * time.Second, PerSlot: 8, Skew: 5 * time.Minute}
}

func TestKeyFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alice.key")
	k := testKey()
	if err := WriteKey(path, k); err != nil {
		t.Fatal(err)
	}
	if err := WriteKey(path, k); err == nil {
		t.Error("WriteKey overwrote an existing key")
	}
	got, err := ReadKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Format()) != string(k.Format()) {
		t.Errorf("ReadKey(WriteKey(k)) =\n%s\nwant\n%s", got.Format(), k.Format())
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadKey(path); !errors.Is(err, ErrOpenKey) {
		t.Errorf("ReadKey(mode 0644) = %v, want ErrOpenKey", err)
	}
}

func TestParseKeyErrors(t *testing.T) {
	good := string(testKey().Format())
	for name, text := range map[string]string{
		"not toml":      "secret =",
		"unknown field": good + "extra = 1\n",
		"short secret":  `door = "ssh"` + "\n" + `name = "a"` + "\n" + `secret = "AAAA"` + "\nport = 1\n" + `slot = "30s"` + "\nper_slot = 1\n" + `skew = "0s"` + "\n",
	} {
		if _, err := ParseKey([]byte(text)); err == nil {
			t.Errorf("ParseKey(%s) succeeded", name)
		}
	}
}

func TestTakeState(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "alice.state")
	k := testKey()
	now := time.Unix(1_800_000_000, 0)
	// A client that has kept its state for a while (no fresh start in the
	// last minute).
	ns := SlotOf(now, k.Slot)
	if err := os.WriteFile(state, []byte(fmt.Sprintf(stateLine, "ssh", "alice", ns, 0)), 0o600); err != nil {
		t.Fatal(err)
	}
	seen := map[Token]bool{}
	for i := 0; i < 20; i++ {
		tok, p, err := Take(state, k, now.Add(time.Duration(i)*3*time.Second))
		if err != nil {
			t.Fatalf("Take %d: %v", i, err)
		}
		if seen[tok] {
			t.Fatalf("Take %d: token %v sent twice", i, p)
		}
		seen[tok] = true
	}
	// Losing the state file costs no attempt: the next token is new.
	if err := os.Remove(state); err != nil {
		t.Fatal(err)
	}
	tok, _, err := Take(state, k, now.Add(time.Minute))
	if err != nil || seen[tok] {
		t.Errorf("Take after losing the state = reused %v, err %v; want a fresh token", seen[tok], err)
	}
	if fi, err := os.Stat(state); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
}
