package view

import (
	"encoding/json"
	"io"
	"math"
	"time"
)

// FormatVersion is the version of every JSON document knockc prints, in
// its "format_version" field. The major number changes when a field
// changes meaning or goes away; the minor one when fields are added.
const FormatVersion = "1.1"

// WriteJSON writes v as indented JSON followed by a newline.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// Seconds is a duration printed in JSON as a number of seconds with
// millisecond precision (e.g. 29.998), the unit shell tools and Ansible
// compare most easily.
type Seconds time.Duration

// MarshalJSON writes the duration in seconds, rounded to milliseconds.
func (s Seconds) MarshalJSON() ([]byte, error) {
	sec := math.Round(time.Duration(s).Seconds()*1000) / 1000
	return json.Marshal(sec)
}

// UnmarshalJSON reads a number of seconds.
func (s *Seconds) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*s = Seconds(time.Duration(f * float64(time.Second)))
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// WriteJSONLine writes v as one line of JSON (NDJSON), for streams.
func WriteJSONLine(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
}

// List is a list field that is written as [] when empty, never null, as
// every list of knockc's JSON documents is (docs/operations.md).
type List[T any] []T

// MarshalJSON writes the list, [] when it is nil.
func (l List[T]) MarshalJSON() ([]byte, error) {
	if l == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]T(l))
}
