package specgen_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/internal/testenv/specgen"
	"github.com/knockc/knockc/ruleset"
)

func TestDoorsLoads(t *testing.T) {
	tests := []struct {
		name      string
		n         int
		floodRate int
		stepSize  uint32 // size of every step set
	}{
		{"one door, default sets", 1, 0, 125000},
		{"ten doors, small sets", 10, specgen.SmallSets, 500},
		{"1000 doors, small sets", 1000, specgen.SmallSets, 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, err := compiler.Parse("gen.toml", specgen.Doors(tt.n, tt.floodRate))
			if err != nil {
				t.Fatalf("compiler.Parse(Doors(%d, %d)) = %v", tt.n, tt.floodRate, err)
			}
			if got := len(spec.Doors); got != tt.n {
				t.Fatalf("len(Parse(Doors(%d, %d)).Doors) = %d, want %d", tt.n, tt.floodRate, got, tt.n)
			}
			last := tt.n - 1
			d := spec.Doors[last]
			if d.Name != specgen.DoorName(last) {
				t.Fatalf("Doors(%d, %d): last door = %q, want %q", tt.n, tt.floodRate, d.Name, specgen.DoorName(last))
			}
			p := specgen.KnockBase + 3*last
			for _, c := range []struct {
				key       string
				got, want string
			}{
				{"sequence", fmt.Sprint(d.Sequence), fmt.Sprintf("[%d/tcp %d/tcp %d/tcp]", p, p+1, p+2)},
				{"close_sequence", fmt.Sprint(d.CloseSequence), fmt.Sprintf("[%d/tcp %d/tcp %d/tcp]", p+2, p+1, p)},
				{"protect", fmt.Sprint(d.Protect), fmt.Sprintf("[%d/tcp]", specgen.ProtectBase+last)},
			} {
				if c.got != c.want {
					t.Errorf("Doors(%d, %d): door %q %s = %s, want %s", tt.n, tt.floodRate, d.Name, c.key, c.got, c.want)
				}
			}
			table := compiler.Compile(spec)
			name := compiler.StepSet(d.Name, compiler.Open, 1, ruleset.IPv4)
			if s := table.Set(name); s == nil || s.Size != tt.stepSize {
				t.Errorf("Compile(Doors(%d, %d)).Set(%q) = %+v, want size %d", tt.n, tt.floodRate, name, s, tt.stepSize)
			}
		})
	}
}

// TestDoorsMax checks the last door Doors can write without loading it:
// validation compares every pair of sequences, which for MaxDoors doors
// takes over a minute.
func TestDoorsMax(t *testing.T) {
	last := specgen.MaxDoors - 1
	p := specgen.KnockBase + 3*last
	if p+2 > 65535 {
		t.Fatalf("MaxDoors = %d: last knock port = %d, want at most 65535", specgen.MaxDoors, p+2)
	}
	want := fmt.Sprintf("[door.%s]\nsequence = [\"%d/tcp\", \"%d/tcp\", \"%d/tcp\"]\n", specgen.DoorName(last), p, p+1, p+2)
	if got := string(specgen.Doors(specgen.MaxDoors, 0)); !strings.Contains(got, want) {
		t.Errorf("Doors(MaxDoors, 0) lacks %q", want)
	}
}

func TestDoorsPanicsOutOfRange(t *testing.T) {
	for _, n := range []int{0, -1, specgen.MaxDoors + 1} {
		t.Run(fmt.Sprintf("doors=%d", n), func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Doors(%d, 0) did not panic, want a panic", n)
				}
			}()
			specgen.Doors(n, 0)
		})
	}
}
