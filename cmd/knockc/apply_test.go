//go:build linux

package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/knockc/knockc/ruleset/nftkernel"
)

// The CLI, not the library, says what to do after a failed apply: look
// with plan when the state is unknown or not what was sent; nothing more
// when the kernel rejected the batch and changed nothing.
func TestWithRemedy(t *testing.T) {
	const remedy = "run knockc plan to see what is in place"
	cause := errors.New("netlink receive: no such file or directory")
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"rejected", &nftkernel.ApplyError{Table: "knockc", Rejected: true, Err: cause}, false},
		{"socket failed", &nftkernel.ApplyError{Table: "knockc", Err: cause}, true},
		{"read back differs", fmt.Errorf("apply table %q: %w", "knockc", nftkernel.ErrReadBackDiffers), true},
		{"other", cause, false},
	} {
		got := withRemedy(tc.err)
		if strings.Contains(got.Error(), remedy) != tc.want || !errors.Is(got, tc.err) {
			t.Errorf("%s: withRemedy(%v) = %q; remedy wanted: %v (and the cause kept)", tc.name, tc.err, got, tc.want)
		}
	}
}
