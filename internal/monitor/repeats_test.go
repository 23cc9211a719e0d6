package monitor

import (
	"errors"
	"log/slog"
	"testing"
)

func TestRepeatsLogOnceAtLevel(t *testing.T) {
	rec := &recordHandler{}
	log := slog.New(rec)
	var r repeats
	down := errors.New("bus down")
	for i := 0; i < 4; i++ {
		r.failed(log, slog.LevelError, "state", "cannot ask", down)
	}
	if n := r.failed(log, slog.LevelError, "state", "cannot ask", errors.New("bus refused")); n != 5 {
		t.Errorf("attempts = %d, want 5", n)
	}
	if got := rec.count("ERROR  cannot ask"); got != 2 {
		t.Errorf("error lines = %d, want 2 (the first failure and the changed error): %q", got, rec.lines)
	}
	if got := rec.count("DEBUG  cannot ask (again)"); got != 3 {
		t.Errorf("debug repeats = %d, want 3: %q", got, rec.lines)
	}
	if n := r.ok("state"); n != 5 {
		t.Errorf("ok(state) = %d, want 5 failed attempts", n)
	}
	if n := r.ok("state"); n != 0 {
		t.Errorf("ok(state) again = %d, want 0", n)
	}
	r.failed(log, slog.LevelError, "state", "cannot ask", down)
	if got := rec.count("ERROR  cannot ask"); got != 3 {
		t.Errorf("after recovery a new failure logs at error again: %d error lines, want 3", got)
	}
}
