package metrics

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestEventsFromLogRecords(t *testing.T) {
	m := New(func() ([]SetFill, error) {
		return []SetFill{{Set: "ssh_grant_v4", Elements: 2, Capacity: 1024}, {Set: "not_knockcs", Elements: 9}}, nil
	})
	base := slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn})
	log := slog.New(m.Handler(base))
	door := log.With("door", "ssh")
	door.Info("door opened", "event", "open", "addr", "198.18.0.2", "latency", 3*time.Millisecond)
	door.Info("door opened", "event", "open", "addr", "198.18.0.3", "latency", 40*time.Millisecond)
	door.Info("service started", "event", "service_start", "took", 120*time.Millisecond)
	door.Info("held packets released", "event", "release", "addr", "198.18.0.2", "packets", 3)
	door.Debug("service still not starting", "event", "service_fail") // below the base level: counted anyway
	log.Warn("held packets dropped for a full queue", "event", "queue_drop", "kernel", 3, "undelivered", 0, "monitor", 1)
	log.Warn("held packets dropped for a full queue", "event", "queue_drop", "kernel", 5, "undelivered", 0, "monitor", 1) // totals
	log.Info("monitor ready")                                                                                             // no event: not counted

	var b bytes.Buffer
	m.WritePrometheus(&b)
	out := b.String()
	for _, want := range []string{
		`knockc_events_total{door="ssh",event="open"} 2`,
		`knockc_events_total{door="ssh",event="service_start"} 1`,
		`knockc_events_total{door="ssh",event="service_fail"} 1`,
		`knockc_events_total{door="ssh",event="release"} 1`,
		`knockc_held_packets_total{door="ssh",outcome="released"} 3`,
		`knockc_queue_dropped_packets_total{where="kernel"} 5`,
		`knockc_queue_dropped_packets_total{where="monitor"} 1`,
		`knockc_service_start_seconds_bucket{door="ssh",le="0.25"} 1`,
		`knockc_service_start_seconds_bucket{door="ssh",le="0.1"} 0`,
		`knockc_grant_latency_seconds_count{door="ssh"} 2`,
		`knockc_grant_latency_seconds_bucket{door="ssh",le="0.005"} 1`,
		`knockc_set_elements{door="ssh",set="ssh_grant_v4",role="grant"} 2`,
		`knockc_set_capacity{door="ssh",set="ssh_grant_v4",role="grant"} 1024`,
		"process_resident_memory_bytes",
	} {
		if !strings.Contains(out, want+"\n") && !strings.Contains(out, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(out, "not_knockcs") || strings.Contains(out, "monitor ready") {
		t.Errorf("metrics have what is not knockc's:\n%s", out)
	}
}

func TestFillErrorLeavesTheRest(t *testing.T) {
	m := New(func() ([]SetFill, error) { return nil, errors.New("table gone") })
	m.event("ssh", "open")
	var b bytes.Buffer
	m.WritePrometheus(&b)
	if !strings.Contains(b.String(), "# knockc: set fill not read: table gone") || !strings.Contains(b.String(), `knockc_events_total{door="ssh",event="open"} 1`) {
		t.Errorf("metrics with a failing fill:\n%s", b.String())
	}
}
