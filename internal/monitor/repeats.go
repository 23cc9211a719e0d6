package monitor

import (
	"context"
	"log/slog"
)

// repeats keeps, per condition, the failure last logged at its own level,
// so that a failure the monitor retries at every reconcile (a unit that
// will not start, a bus that is down, a table that is gone) makes one
// line at error or warn level in the journal, its repeats go to debug with
// the attempt count, and its end makes one info line. The zero value is
// ready to use; a door or the monitor uses it from one goroutine.
type repeats struct {
	last map[string]*repeat
}

type repeat struct {
	err      string
	attempts int
}

// failed logs msg with err for condition key: at level the first time and
// whenever the error text changes, at debug (with "attempts") while the
// same error repeats. It returns the attempts so far.
func (r *repeats) failed(log *slog.Logger, level slog.Level, key, msg string, err error, args ...any) int {
	if r.last == nil {
		r.last = map[string]*repeat{}
	}
	p := r.last[key]
	if p == nil {
		p = &repeat{}
		r.last[key] = p
	}
	p.attempts++
	args = append(args, "err", err)
	if text := err.Error(); text != p.err {
		p.err = text
		log.Log(context.Background(), level, msg, args...)
		return p.attempts
	}
	log.Debug(msg+" (again)", append(args, "attempts", p.attempts)...)
	return p.attempts
}

// ok ends condition key and returns how many attempts had failed (0 when
// it had not failed); the caller logs the recovery, with that count.
func (r *repeats) ok(key string) int {
	p := r.last[key]
	if p == nil {
		return 0
	}
	delete(r.last, key)
	return p.attempts
}
