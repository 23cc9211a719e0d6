package compiler_test

import (
	"strings"
	"testing"

	"github.com/knockc/knockc/compiler"
)

func TestWarnings(t *testing.T) {
	for name, warn := range map[string]bool{"filter": true, "nat": true, "firewalld": true, "knockc": false, "doors": false} {
		spec, err := compiler.Parse("k.toml", []byte("[table]\nname = \""+name+"\"\n"+limitsDoor))
		if err != nil {
			t.Fatalf("Parse(name %q) = %v", name, err)
		}
		got := compiler.Warnings(spec)
		if (len(got) > 0) != warn || (warn && !strings.Contains(got[0], `table name "`+name+`" is commonly used by`)) {
			t.Errorf("Warnings(name %q) = %q, want warning %v", name, got, warn)
		}
	}
}

// A spec with no door is valid (an import that translated nothing writes
// one) but says so.
func TestWarningsNoDoors(t *testing.T) {
	for _, src := range []string{"", "[table]\nname = \"knockc\"\n", "[door]\n"} {
		spec, err := compiler.Parse("k.toml", []byte(src))
		if err != nil {
			t.Fatalf("Parse(%q) = %v, want a spec with no doors", src, err)
		}
		if got := compiler.Warnings(spec); len(got) != 1 || !strings.Contains(got[0], "k.toml: no doors") {
			t.Errorf("Warnings(Parse(%q)) = %q, want one \"no doors\" warning", src, got)
		}
	}
}
