package knockdconf

import (
	"bytes"
	"fmt"
	"io"
)

// Limits on what Convert reads, so that a huge or crafted file (/dev/zero,
// a million sections) is refused at once and in bounded memory rather than
// translated. Real knockd.conf files are a few kilobytes with a handful of
// sections (those of testdata/corpus have at most 7); knockd itself reads
// lines of at most PATH_MAX bytes.
const (
	maxConfBytes = 1 << 20 // 1 MiB
	maxLines     = 20000
	maxLineBytes = 4096
	maxSections  = 100
)

// LimitError says a knockd configuration is larger than Convert reads.
type LimitError struct {
	What  string // "bytes", "lines", "a line", "sections"
	Limit int
	Line  int // where the limit was passed; 0 for the size
}

func (e *LimitError) Error() string {
	switch e.What {
	case "a line":
		return fmt.Sprintf("line %d is longer than %d bytes: not a knockd configuration knockc reads", e.Line, e.Limit)
	case "bytes":
		return fmt.Sprintf("larger than %d bytes: not a knockd configuration knockc reads", e.Limit)
	}
	return fmt.Sprintf("more than %d %s (at line %d): not a knockd configuration knockc reads", e.Limit, e.What, e.Line)
}

// Read reads a knockd configuration from r, at most maxConfBytes; a larger
// one fails with a *LimitError without being read further.
func Read(r io.Reader) ([]byte, error) {
	var b bytes.Buffer
	n, err := io.Copy(&b, io.LimitReader(r, maxConfBytes+1))
	if err != nil {
		return nil, err
	}
	if n > maxConfBytes {
		return nil, &LimitError{What: "bytes", Limit: maxConfBytes}
	}
	return b.Bytes(), nil
}

// checkLimits fails with a *LimitError when data passes a limit.
func checkLimits(data []byte) error {
	if len(data) > maxConfBytes {
		return &LimitError{What: "bytes", Limit: maxConfBytes}
	}
	line, sections := 0, 0
	for len(data) > 0 {
		line++
		if line > maxLines {
			return &LimitError{What: "lines", Limit: maxLines, Line: line}
		}
		l := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			l, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if len(l) > maxLineBytes {
			return &LimitError{What: "a line", Limit: maxLineBytes, Line: line}
		}
		if t := bytes.TrimSpace(l); len(t) > 2 && t[0] == '[' && t[len(t)-1] == ']' {
			sections++
			if sections > maxSections {
				return &LimitError{What: "sections", Limit: maxSections, Line: line}
			}
		}
	}
	return nil
}
