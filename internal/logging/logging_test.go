package logging

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-systemd/v22/journal"
)

// entry is one journal entry a test handler received.
type entry struct {
	msg  string
	pri  journal.Priority
	vars map[string]string
}

func TestJournalHandler(t *testing.T) {
	var got []entry
	h := NewJournalHandler(func(m string, p journal.Priority, v map[string]string) error {
		got = append(got, entry{m, p, v})
		return nil
	}, slog.LevelInfo)
	log := slog.New(h).With("door", "ssh")
	log.Debug("not sent")
	log.Info("door opened", "event", "open", "addr", "198.51.100.7", "open_for", 30*time.Second, "latency", 118*time.Microsecond)
	log.Warn("hook failed", "argv", []string{"a", "b"})
	log.Error("service did not start", "err", "unit not found")
	log.WithGroup("held").Info("released", "packets", 3)

	if len(got) != 4 {
		t.Fatalf("sent %d entries, want 4 (debug left out)", len(got))
	}
	open := got[0]
	if open.pri != journal.PriInfo || open.msg != "door opened door=ssh event=open addr=198.51.100.7 open_for=30s latency=118µs" {
		t.Errorf("info entry = %d %q", open.pri, open.msg)
	}
	for k, v := range map[string]string{"KNOCKC_DOOR": "ssh", "KNOCKC_EVENT": "open", "KNOCKC_ADDR": "198.51.100.7", "KNOCKC_OPEN_FOR": "30s", "SYSLOG_IDENTIFIER": "knockc"} {
		if open.vars[k] != v {
			t.Errorf("info entry %s = %q, want %q", k, open.vars[k], v)
		}
	}
	if got[1].pri != journal.PriWarning || got[2].pri != journal.PriErr {
		t.Errorf("priorities of warn, error = %d, %d; want %d, %d", got[1].pri, got[2].pri, journal.PriWarning, journal.PriErr)
	}
	if got[2].vars["KNOCKC_ERR"] != "unit not found" || !strings.HasSuffix(got[2].msg, `err="unit not found"`) {
		t.Errorf("error entry = %q %v", got[2].msg, got[2].vars)
	}
	if got[3].vars["KNOCKC_HELD_PACKETS"] != "3" || got[3].vars["KNOCKC_DOOR"] != "ssh" {
		t.Errorf("grouped entry fields = %v, want KNOCKC_HELD_PACKETS=3 and the door", got[3].vars)
	}
}

func TestTextAndJSONDurationsAreHuman(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		var b bytes.Buffer
		log, err := New(&b, format, "info")
		if err != nil {
			t.Fatal(err)
		}
		log.Info("door opened", "open_for", 30*time.Second, "took", 1502345*time.Microsecond)
		for _, want := range []string{"30s", "1.502s"} {
			if !strings.Contains(b.String(), want) {
				t.Errorf("%s log %q lacks %q", format, b.String(), want)
			}
		}
		if strings.Contains(b.String(), "30000000000") {
			t.Errorf("%s log has nanoseconds: %q", format, b.String())
		}
	}
	if _, err := New(&bytes.Buffer{}, "xml", "info"); err == nil {
		t.Error(`New(format "xml") = nil error`)
	}
	if _, err := New(&bytes.Buffer{}, "text", "loud"); err == nil {
		t.Error(`New(level "loud") = nil error`)
	}
}
