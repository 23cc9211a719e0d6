package knockdconf

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/knockc/knockc/compiler"
)

// Whatever knockd.conf holds, Convert does not panic, writes no control
// character into the spec, and the spec loads whenever it counts a door.
func FuzzConvert(f *testing.F) {
	for _, glob := range []string{"testdata/*.conf", "testdata/corpus/*.conf", "testdata/heldout/*.conf"} {
		files, _ := filepath.Glob(glob)
		for _, file := range files {
			if data, err := os.ReadFile(file); err == nil {
				f.Add(data)
			}
		}
	}
	f.Add([]byte("[a]\nsequence = 1,2\ncommand = ufw allow from %IP% to any port 22 && service ssh start\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Convert("fuzz.conf", data, Options{})
		if err != nil {
			return // past a limit
		}
		for _, r := range string(res.Spec) {
			if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f {
				t.Fatalf("Convert writes control character %q into the spec:\n%s", r, res.Spec)
			}
		}
		if res.Doors == 0 {
			return
		}
		spec, err := compiler.Parse("fuzz.toml", res.Spec)
		if err != nil {
			t.Fatalf("Convert counts %d doors, but the spec does not load: %v\n%s", res.Doors, err, res.Spec)
		}
		if len(spec.Doors) != res.Doors {
			t.Fatalf("Convert counts %d doors, the spec has %d", res.Doors, len(spec.Doors))
		}
	})
}
