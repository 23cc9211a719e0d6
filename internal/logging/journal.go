package logging

import (
	"context"
	"log/slog"
	"strings"

	"github.com/coreos/go-systemd/v22/journal"
)

// SendFunc sends one journal entry; journal.Send is the real one.
type SendFunc func(message string, priority journal.Priority, vars map[string]string) error

// JournalHandler is a slog.Handler that writes native journal entries:
// MESSAGE is the message followed by the attributes as key=value (what
// journalctl shows by default), PRIORITY follows the level, and every
// attribute is also a field KNOCKC_KEY (group names joined with _, in
// upper case).
type JournalHandler struct {
	send   SendFunc
	level  slog.Leveler
	attrs  []slog.Attr // with their keys already prefixed by groups
	prefix string      // open groups, "a_b_"
}

// NewJournalHandler returns a handler that sends entries from level on.
func NewJournalHandler(send SendFunc, level slog.Leveler) *JournalHandler {
	return &JournalHandler{send: send, level: level}
}

// Enabled reports whether level is logged.
func (h *JournalHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

// Priority maps a slog level to a syslog priority.
func Priority(l slog.Level) journal.Priority {
	switch {
	case l >= slog.LevelError:
		return journal.PriErr
	case l >= slog.LevelWarn:
		return journal.PriWarning
	case l >= slog.LevelInfo:
		return journal.PriInfo
	}
	return journal.PriDebug
}

// Handle sends r as one entry; a journal that cannot be reached is the
// error.
func (h *JournalHandler) Handle(_ context.Context, r slog.Record) error {
	vars := map[string]string{"SYSLOG_IDENTIFIER": "knockc"}
	var msg strings.Builder
	msg.WriteString(r.Message)
	add := func(a slog.Attr) {
		key, val := fieldName(a.Key), value(a.Value)
		vars[key] = val
		msg.WriteString(" " + strings.ToLower(strings.TrimPrefix(key, "KNOCKC_")) + "=" + quote(val))
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(func(a slog.Attr) bool {
		for _, f := range flatten(h.prefix, a) {
			add(f)
		}
		return true
	})
	return h.send(msg.String(), Priority(r.Level), vars)
}

// WithAttrs returns a handler that adds attrs to every entry.
func (h *JournalHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append([]slog.Attr{}, h.attrs...)
	for _, a := range attrs {
		c.attrs = append(c.attrs, flatten(h.prefix, a)...)
	}
	return &c
}

// WithGroup returns a handler whose later attributes sit in group name.
func (h *JournalHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.prefix = h.prefix + name + "_"
	return &c
}

// flatten returns a's leaves with group names joined into their keys.
func flatten(prefix string, a slog.Attr) []slog.Attr {
	a.Value = a.Value.Resolve()
	if a.Value.Kind() != slog.KindGroup {
		if a.Key == "" {
			return nil
		}
		return []slog.Attr{{Key: prefix + a.Key, Value: a.Value}}
	}
	if a.Key != "" {
		prefix += a.Key + "_"
	}
	var out []slog.Attr
	for _, g := range a.Value.Group() {
		out = append(out, flatten(prefix, g)...)
	}
	return out
}

// fieldName turns an attribute key into a journal field name: KNOCKC_ and
// the key in upper case, characters other than A-Z, 0-9 and _ as _.
func fieldName(key string) string {
	var b strings.Builder
	b.WriteString("KNOCKC_")
	for _, r := range strings.ToUpper(key) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// value formats an attribute's value, durations as people read them.
func value(v slog.Value) string {
	if v.Kind() == slog.KindDuration {
		return Duration(v.Duration())
	}
	return v.String()
}

func quote(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\n\"=") {
		return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
	}
	return s
}
