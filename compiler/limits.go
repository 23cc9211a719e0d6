package compiler

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Limits on a spec, checked before the TOML decoder sees it, so a crafted
// file (`knockc check /dev/zero`, ten thousand nested inline tables, an
// array of a million elements) is refused at once and in bounded memory
// instead of exhausting the decoder. Each is far above what a real spec
// needs: a spec of 1000 doors is about 300 KiB, nests 3 deep, and its
// longest arrays are its allow_from lists. docs/fail-closed.md says why.
const (
	// MaxSpecBytes is the largest spec file read; reading stops one byte past it.
	MaxSpecBytes = 4 << 20
	// MaxNesting is how deep arrays, inline tables and table headers may nest.
	MaxNesting = 32
	// MaxArrayElements is the most elements one array or inline table may hold.
	MaxArrayElements = 10000
	// MaxKeyParts is the most dots one line may hold outside strings and
	// arrays: a dotted key of more parts would build as many nested tables.
	MaxKeyParts = 64
)

// readSpec reads at most MaxSpecBytes+1 bytes of the file at path; a
// larger file (or an endless one such as /dev/zero) is a positioned error.
func readSpec(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSpecBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	if len(data) > MaxSpecBytes {
		var l errorList
		l.add(Pos{File: path, Line: 1, Col: 1}, "the spec is larger than %d MiB; a spec is a small text file (is this the right file?)", MaxSpecBytes>>20)
		return nil, l.join()
	}
	return data, nil
}

// limitError is returned by checkLimits with the offending offset.
type limitError struct {
	off int
	msg string
}

func (e *limitError) Error() string { return e.msg }

// checkLimits scans src once, without building anything, and reports the
// first place it exceeds MaxNesting, MaxArrayElements or MaxKeyParts.
// It understands TOML's strings and comments well enough that brackets,
// commas and dots inside them are not counted; anything it misreads in a
// malformed file is left to the decoder, which reports the syntax error.
func checkLimits(src string) error {
	type open struct {
		kind  byte // '[' array, '{' inline table, 'h' table header
		elems int
	}
	var stack []open
	lineStart, dots := true, 0
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch c {
		case '\n':
			lineStart, dots = true, 0
			continue
		case ' ', '\t', '\r':
			continue
		case '#':
			for i < len(src) && src[i] != '\n' {
				i++
			}
			i-- // the newline resets the line
			continue
		case '"', '\'':
			delim := src[i : i+1]
			if strings.HasPrefix(src[i:], strings.Repeat(delim, 3)) {
				delim = strings.Repeat(delim, 3)
			}
			end := stringEnd(src, i+len(delim), delim)
			if end < 0 {
				return nil // unterminated: the decoder says where
			}
			i = end - 1
		case '[', '{':
			kind := c
			if c == '[' && (lineStart || (len(stack) == 1 && stack[0].kind == 'h' && src[i-1] == '[')) {
				kind = 'h'
			}
			if len(stack) >= MaxNesting {
				return &limitError{i, fmt.Sprintf("nests more than %d deep", MaxNesting)}
			}
			stack = append(stack, open{kind: kind})
		case ']', '}':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case ',':
			if len(stack) > 0 {
				top := &stack[len(stack)-1]
				if top.elems++; top.elems >= MaxArrayElements {
					return &limitError{i, fmt.Sprintf("has more than %d elements in one array or inline table", MaxArrayElements)}
				}
			}
		case '.':
			if len(stack) == 0 || stack[len(stack)-1].kind != '[' {
				if dots++; dots > MaxKeyParts {
					return &limitError{i, fmt.Sprintf("has a dotted key of more than %d parts", MaxKeyParts)}
				}
			}
		}
		lineStart = false
	}
	return nil
}

// stringEnd returns the offset just past the string that starts at from
// (after its opening delim), or -1 when it is not closed. Basic strings
// ('"' and '"""') honour backslash escapes; literal strings do not.
func stringEnd(src string, from int, delim string) int {
	escapes := delim[0] == '"'
	for i := from; i < len(src); i++ {
		switch {
		case escapes && src[i] == '\\':
			i++
		case len(delim) == 1 && src[i] == '\n':
			return -1
		case strings.HasPrefix(src[i:], delim):
			end := i + len(delim)
			// A multi-line string may end in up to two more quotes.
			for n := 0; len(delim) == 3 && n < 2 && end < len(src) && src[end] == delim[0]; n++ {
				end++
			}
			return end
		}
	}
	return -1
}

// limitProblem turns checkLimits' error into a positioned spec problem.
func (l *loader) limitProblem(err error) {
	var le *limitError
	if errors.As(err, &le) {
		l.errs.add(l.posAt(le.off), "the spec %s (a limit: see docs/fail-closed.md)", le.msg)
		return
	}
	l.errs.add(Pos{File: l.file, Line: 1, Col: 1}, "%v", err)
}
