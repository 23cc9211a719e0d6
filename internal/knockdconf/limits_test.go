package knockdconf

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// zeros reads as an endless stream of NUL bytes, like /dev/zero.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// A knockd.conf past a stated limit is refused at once with a
// *LimitError naming it; nothing is translated.
func TestLimits(t *testing.T) {
	start := time.Now()
	if _, err := Read(zeros{}); !isLimit(err, "bytes") {
		t.Errorf("Read(/dev/zero) = %v, want a size LimitError", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Read(/dev/zero) took %v, want under a second", d)
	}
	if data, err := Read(strings.NewReader("[a]\nsequence = 1\n")); err != nil || len(data) != 17 {
		t.Errorf("Read(small) = %q, %v", data, err)
	}
	cases := []struct {
		name, what string
		data       []byte
	}{
		{"too big", "bytes", bytes.Repeat([]byte("#\n"), maxConfBytes/2+1)},
		{"too many lines", "lines", bytes.Repeat([]byte("\n"), maxLines+1)},
		{"long line", "a line", append([]byte("[a]\ncommand = "), bytes.Repeat([]byte("x"), maxLineBytes)...)},
		{"too many sections", "sections", bytes.Repeat([]byte("[s]\n"), maxSections+1)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Convert("knockd.conf", tc.data, Options{})
			if res != nil || !isLimit(err, tc.what) || !strings.HasPrefix(err.Error(), "knockd.conf: ") {
				t.Errorf("Convert(%s) = %v, %v; want a %q LimitError", tc.name, res, err, tc.what)
			}
		})
	}
	if _, err := Convert("knockd.conf", bytes.Repeat([]byte("[s]\nsequence = 1\n"), maxSections), Options{}); err != nil {
		t.Errorf("Convert(%d sections) = %v, want it read", maxSections, err)
	}
}

func isLimit(err error, what string) bool {
	var le *LimitError
	return errors.As(err, &le) && le.What == what
}

// Warnings never carry a control character to the terminal.
func TestWarningEscapes(t *testing.T) {
	w := Warning{File: "k.conf", Line: 2, Msg: "[open\x1b[31m] \r\x07"}
	if got, want := w.String(), `k.conf:2: [open\x1B[31m] \x0D\x07`; got != want {
		t.Errorf("Warning.String() = %q, want %q", got, want)
	}
}
