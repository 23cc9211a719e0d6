package logging

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/coreos/go-systemd/v22/journal"
)

// Formats are the values New accepts for format.
var Formats = []string{"auto", "text", "json", "journal"}

// New returns a logger writing to w in format ("auto": journal when
// stderr is connected to the journal, else text) from level on. It fails
// on an unknown format or level, or for "journal" when no journal is
// there to write to.
func New(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv, ReplaceAttr: humanDurations}
	if format == "auto" {
		format = "text"
		if ok, err := journal.StderrIsJournalStream(); err == nil && ok {
			format = "journal"
		}
	}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "journal":
		if !journal.Enabled() {
			return nil, fmt.Errorf("log format journal: no journal socket at /run/systemd/journal/socket")
		}
		return slog.New(NewJournalHandler(journal.Send, lv)), nil
	}
	return nil, fmt.Errorf("log format %q: want auto, text, json or journal", format)
}

// humanDurations writes durations as Go durations, rounded (see Duration).
func humanDurations(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(Duration(a.Value.Duration()))
	}
	return a
}

// Duration formats d for people: milliseconds for a second or more,
// microseconds below ("30s", "1.502s", "118µs").
func Duration(d time.Duration) string {
	switch {
	case d >= time.Second || d <= -time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond || d <= -time.Millisecond:
		return d.Round(time.Microsecond).String()
	}
	return d.String()
}
