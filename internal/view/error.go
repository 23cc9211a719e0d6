package view

import (
	"errors"

	"github.com/knockc/knockc/compiler"
)

// Error is what a command run with --json prints on stdout when it fails,
// so that automation always gets one JSON document to read.
type Error struct {
	FormatVersion string      `json:"format_version"`
	Error         ErrorDetail `json:"error"`
}

// ErrorDetail is the failure: knockc's own message, and each problem of a
// spec with its place.
type ErrorDetail struct {
	Message string `json:"message"`
	// Kind is "spec" (the spec is invalid; nothing was changed),
	// "permission" (not root and no CAP_NET_ADMIN), "not_found" (status:
	// the table is not in the kernel) or "other".
	Kind     string    `json:"kind"`
	Problems []Problem `json:"problems"`
}

// Problem is one problem of a spec at its place; lines and columns count
// from 1.
type Problem struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Message string `json:"message"`
}

// Error kinds.
const (
	KindSpec       = "spec"
	KindPermission = "permission"
	KindNotFound   = "not_found"
	KindOther      = "other"
)

// NewError builds the error view of err with the message the CLI shows;
// cause is the underlying error, searched for spec problems.
func NewError(message, kind string, cause error) *Error {
	v := &Error{FormatVersion: FormatVersion, Error: ErrorDetail{Message: message, Kind: kind, Problems: []Problem{}}}
	var ps []*compiler.Error
	if cause != nil {
		ps = compiler.Errors(cause)
	}
	for _, p := range ps {
		v.Error.Problems = append(v.Error.Problems, Problem{File: p.Pos.File, Line: p.Pos.Line, Column: p.Pos.Col, Message: p.Msg})
	}
	if len(ps) > 0 && kind == KindOther {
		v.Error.Kind = KindSpec
	}
	return v
}

// IsSpecError reports whether err holds problems of a spec.
func IsSpecError(err error) bool {
	var se *compiler.Error
	return errors.As(err, &se)
}
