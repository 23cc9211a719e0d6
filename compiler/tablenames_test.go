package compiler_test

import (
	"strings"
	"testing"

	"github.com/knockc/knockc/compiler"
)

func TestTableNameWarnings(t *testing.T) {
	for name, warn := range map[string]bool{"filter": true, "nat": true, "firewalld": true, "knockc": false, "doors": false} {
		spec, err := compiler.Parse("k.toml", []byte("[table]\nname = \""+name+"\"\n"+limitsDoor))
		if err != nil {
			t.Fatalf("Parse(name %q) = %v", name, err)
		}
		got := compiler.TableNameWarnings(spec)
		if (len(got) > 0) != warn || (warn && !strings.Contains(got[0], `table name "`+name+`" is commonly used by`)) {
			t.Errorf("TableNameWarnings(name %q) = %q, want warning %v", name, got, warn)
		}
	}
}
