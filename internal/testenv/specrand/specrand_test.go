package specrand

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// The same seed gives the same specs, so a printed seed replays a failure.
func TestRandomIsSeeded(t *testing.T) {
	a, b := rand.New(rand.NewPCG(7, 9)), rand.New(rand.NewPCG(7, 9))
	for i := range 50 {
		if x, y := Random(a), Random(b); x != y {
			t.Fatalf("Random #%d differs for the same seed:\n%s\n---\n%s", i, x.TOML, y.TOML)
		}
	}
}

// Random specs, taken together, write every key the spec reference has.
func TestRandomWritesEveryKey(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var all strings.Builder
	for range 500 {
		all.WriteString(Random(r).TOML)
	}
	keys := []string{"name", "priority", "log_group", "hold_queue", "closed", "interfaces", "answer_port", "grant_mark"}
	for k := range doorValues {
		keys = append(keys, k)
	}
	for k := range managedValues {
		keys = append(keys, k)
	}
	keys = append(keys, "stop_command")
	for _, k := range keys {
		if !strings.Contains(all.String(), "\n"+k+" = ") {
			t.Errorf("500 random specs never set %s", k)
		}
	}
}
