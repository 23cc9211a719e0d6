package compiler

import (
	"errors"
	"fmt"
	"sort"
)

// Pos is a place in a spec file; lines and columns count from 1.
type Pos struct {
	File   string
	Line   int
	Col    int
	Offset int // byte offset, for finding array elements after the value's start
}

// String returns "file:line:col".
func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

// Error is one problem in a spec, at the place it was found.
type Error struct {
	Pos Pos
	Msg string
}

// Error returns "file:line:col: message".
func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// errorList collects spec problems so all of them are reported at once.
type errorList []*Error

func (l *errorList) add(pos Pos, format string, args ...any) {
	*l = append(*l, &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// join returns the problems sorted by position as one error (errors.Join),
// or nil when there are none. Each problem stays reachable with errors.As.
func (l errorList) join() error {
	if len(l) == 0 {
		return nil
	}
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i].Pos, l[j].Pos
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	errs := make([]error, 0, len(l))
	seen := map[string]bool{}
	for _, e := range l {
		if s := e.Error(); !seen[s] {
			seen[s] = true
			errs = append(errs, e)
		}
	}
	return errors.Join(errs...)
}

// Errors returns the individual spec problems inside err, in order.
func Errors(err error) []*Error {
	var out []*Error
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		var se *Error
		if errors.As(e, &se) && se == e {
			out = append(out, se)
			return
		}
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		walk(errors.Unwrap(e)) // a wrapper around a joined list keeps all of it
	}
	walk(err)
	return out
}
