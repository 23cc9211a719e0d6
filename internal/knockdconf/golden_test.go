package knockdconf

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/internal/testenv"
)

// Every testdata/*.conf (knockd(1)'s examples, Debian's /etc/knockd.conf and
// knockc's own cases) translates to its .toml and .warnings; the spec loads
// whenever it has a door, with as many doors as Convert counted.
func TestGolden(t *testing.T) {
	confs, err := filepath.Glob("testdata/*.conf")
	corpus, err2 := filepath.Glob("testdata/corpus/*.conf")
	heldout, _ := filepath.Glob("testdata/heldout/*.conf")
	confs = append(confs, heldout...)
	if err != nil || err2 != nil || len(confs) == 0 || len(corpus) < 30 {
		t.Fatalf("testdata/*.conf and testdata/corpus/*.conf (at least 30): %d, %d, %v %v", len(confs), len(corpus), err, err2)
	}
	for _, conf := range append(confs, corpus...) {
		name := strings.TrimSuffix(conf, ".conf")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(conf)
			if err != nil {
				t.Fatal(err)
			}
			res, err := Convert(filepath.Base(conf), data, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var warnings bytes.Buffer
			for _, w := range res.Warnings {
				warnings.WriteString(w.String() + "\n")
			}
			testenv.Golden(t, name+".toml", res.Spec)
			testenv.Golden(t, name+".warnings", warnings.Bytes())

			// Whatever the importer writes checks, with or without doors.
			spec, err := compiler.Parse(filepath.Base(name)+".toml", res.Spec)
			switch {
			case err != nil:
				t.Errorf("compiler.Parse(Convert(%s)) = %v, want a spec", conf, err)
			case len(spec.Doors) != res.Doors:
				t.Errorf("Convert(%s) counted %d doors, the spec has %d", conf, res.Doors, len(spec.Doors))
			}
			// A commented door without placeholders (a token door for
			// one_time_sequences, a script's door that its undoing section
			// filled in) loads once "# " is taken off each of its lines.
			for _, door := range commentedDoors(res.Spec) {
				if strings.Contains(door, "PORT") || strings.Contains(door, "/path/to/") || strings.Contains(door, "a fix for what knockc refuses") {
					continue // a placeholder to fill, or what the compiler refused
				}
				if _, err := compiler.Parse("uncommented.toml", []byte(door)); err != nil {
					t.Errorf("Convert(%s): a commented door, uncommented, does not load: %v\n%s", conf, err, door)
				}
			}
			for _, r := range string(res.Spec) {
				if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f {
					t.Errorf("Convert(%s) writes control character %q into the spec", conf, r)
				}
			}
			if again, _ := Convert(filepath.Base(conf), data, Options{}); !bytes.Equal(again.Spec, res.Spec) {
				t.Errorf("Convert(%s) is not deterministic", conf)
			}
		})
	}
}

// commentedDoors returns each door written out commented, with the
// leading "# " taken off its lines from its [door.NAME] line to the next
// blank line, after the line that says why it is not translated.
func commentedDoors(spec []byte) []string {
	var doors []string
	var cur *strings.Builder
	why := ""
	for _, line := range strings.Split(string(spec), "\n") {
		switch {
		case strings.HasPrefix(line, "# Not translated:"):
			why = line
		case strings.HasPrefix(line, "# [door.") && cur == nil:
			cur = &strings.Builder{}
			cur.WriteString("# " + why + "\n")
		case line == "" && cur != nil:
			doors = append(doors, cur.String())
			cur = nil
		}
		if cur != nil {
			cur.WriteString(strings.TrimPrefix(line, "# ") + "\n")
		}
	}
	if cur != nil {
		doors = append(doors, cur.String())
	}
	return doors
}
