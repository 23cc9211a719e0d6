package examples

import (
	"strings"
	"testing"
)

func TestPolkitRule(t *testing.T) {
	for _, tc := range []struct {
		name  string
		units []string
		want  string
	}{
		{"shipped", []string{"ssh.service"}, `var units = ["ssh.service"];`},
		{"two units", []string{"ssh.service", "web-admin.service"}, `var units = ["ssh.service","web-admin.service"];`},
		{"none", nil, `var units = [];`},
		{"quotes stay inside the string", []string{`a"b\c.service`}, `var units = ["a\"b\\c.service"];`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := PolkitRule(tc.units)
			if err != nil {
				t.Fatalf("PolkitRule(%q) = %v", tc.units, err)
			}
			if !strings.Contains(got, "\n    "+tc.want+"\n") {
				t.Errorf("PolkitRule(%q) lacks %q:\n%s", tc.units, tc.want, got)
			}
			if n := strings.Count(got, "var units"); n != 1 {
				t.Errorf("PolkitRule(%q) has %d unit lists, want 1", tc.units, n)
			}
		})
	}
	shipped, err := FS.ReadFile(PolkitRuleFile)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := PolkitRule([]string{"ssh.service"}); got != string(shipped) {
		t.Errorf("PolkitRule([ssh.service]) differs from the shipped %s", PolkitRuleFile)
	}
}
