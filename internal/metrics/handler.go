package metrics

import (
	"context"
	"log/slog"
)

// Handler returns a slog.Handler that counts the records naming an event
// and passes every record on to next (filtered by next's level as
// before). The door comes from the record or from the logger's attributes
// (the monitor's door loggers carry it).
func (m *Metrics) Handler(next slog.Handler) slog.Handler {
	return &handler{m: m, next: next}
}

type handler struct {
	m    *Metrics
	next slog.Handler
	door string // from WithAttrs
}

// Enabled is true for every level: debug records count too.
func (h *handler) Enabled(context.Context, slog.Level) bool { return true }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	h.count(r)
	if !h.next.Enabled(ctx, r.Level) {
		return nil
	}
	return h.next.Handle(ctx, r)
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	for _, a := range attrs {
		if a.Key == "door" {
			c.door = a.Value.String()
		}
	}
	c.next = h.next.WithAttrs(attrs)
	return &c
}

func (h *handler) WithGroup(name string) slog.Handler {
	c := *h
	c.next = h.next.WithGroup(name)
	return &c
}

// count adds r to the metrics it feeds.
func (h *handler) count(r slog.Record) {
	door, event := h.door, ""
	var attrs = map[string]slog.Value{}
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "door":
			door = a.Value.String()
		case "event":
			event = a.Value.String()
		default:
			attrs[a.Key] = a.Value.Resolve()
		}
		return true
	})
	if event == "" {
		return
	}
	m := h.m
	if event == "queue_drop" {
		// The record carries totals since the monitor started.
		m.mu.Lock()
		defer m.mu.Unlock()
		for _, where := range []string{"kernel", "undelivered", "monitor"} {
			if v, ok := attrs[where]; ok {
				total := number(v)
				m.queueDrops(where, max(total-m.queueSeen[where], 0))
				m.queueSeen[where] = max(total, m.queueSeen[where])
			}
		}
		return
	}
	if door == "" {
		return
	}
	m.event(door, event)
	switch event {
	case "service_start":
		if v, ok := attrs["took"]; ok && v.Kind() == slog.KindDuration {
			m.serviceStart(door, v.Duration())
		}
	case "open":
		if v, ok := attrs["latency"]; ok && v.Kind() == slog.KindDuration {
			m.grantLatency(door, v.Duration())
		}
	case "release":
		m.held(door, "released", number(attrs["packets"]))
	case "hold_expire":
		m.held(door, "expired", number(attrs["packets"]))
	case "hold_drop":
		m.held(door, "dropped", 1)
	}
}

// number reads an integer or float attribute; anything else is 0.
func number(v slog.Value) float64 {
	switch v.Kind() {
	case slog.KindInt64:
		return float64(v.Int64())
	case slog.KindUint64:
		return float64(v.Uint64())
	case slog.KindFloat64:
		return v.Float64()
	}
	return 0
}
