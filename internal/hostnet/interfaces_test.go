package hostnet

import (
	"slices"
	"testing"
)

func TestMissing(t *testing.T) {
	present := []string{"ens3", "lo", "wg0"}
	tests := []struct {
		name   string
		listed []string
		want   []string
	}{
		{"all present", []string{"ens3", "lo"}, nil},
		{"a typo", []string{"eth0", "ens3"}, []string{"eth0"}},
		{"prefix matches", []string{"wg*", "en*"}, nil},
		{"prefix matches nothing", []string{"tun*"}, []string{"tun*"}},
		{"no prefix match on a bare name", []string{"wg"}, []string{"wg"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Missing(tt.listed, present); !slices.Equal(got, tt.want) {
				t.Errorf("Missing(%q, %q) = %q, want %q", tt.listed, present, got, tt.want)
			}
		})
	}
}
