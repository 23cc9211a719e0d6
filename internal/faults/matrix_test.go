//go:build linux

package faults

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/knockc/knockc/internal/testenv"
	"github.com/knockc/knockc/internal/testenv/netns"
)

// knockcBin is the knockc binary, built once for the matrix.
var knockcBin string

// result is one line of the matrix.
type result struct {
	row, setup   string
	x            exposure
	grants       string // grants lost, "-" where the knocker held none
	sessionsLost int
	end          string
	endOK        bool
	mustEnd      bool
	mustClose    bool // a stranger must not get in: the test fails otherwise
	note         string
}

// TestIntegrationFaultMatrix runs every fault of rows in every setup and
// prints the matrix. It fails only on what must hold: a stranger completed
// a handshake in a fail-closed setup, an established session died, or the
// end state is wrong after a fault whose repair is on main (row.repaired).
func TestIntegrationFaultMatrix(t *testing.T) {
	netns.RequireRoot(t, "nft", "sshd", "ssh", "ssh-keygen", "pkill")
	knockcBin = testenv.BuildKnockc(t, t.TempDir(), "faults-test")
	var (
		mu      sync.Mutex
		results = map[string]result{}
	)
	setups := []setup{plain, managed, marked}
	t.Run("rows", func(t *testing.T) {
		for _, r := range rows {
			for _, s := range setups {
				t.Run(r.name+"/"+s.name, func(t *testing.T) {
					t.Parallel()
					res := runRow(t, r, s)
					mu.Lock()
					results[r.name+"/"+s.name] = res
					mu.Unlock()
				})
			}
		}
	})
	var lines []result
	for _, r := range rows {
		for _, s := range setups {
			if res, ok := results[r.name+"/"+s.name]; ok {
				lines = append(lines, res)
			} else {
				lines = append(lines, result{row: r.name, setup: s.name, grants: "?", end: "(not run)", endOK: true})
			}
		}
	}
	table := formatTable(lines)
	t.Logf("fault matrix (knockc at %s):\n%s", gitDescribe(), table)
	if dir := os.Getenv("KNOCKC_REPORT_DIR"); dir != "" {
		text := fmt.Sprintf("\nFault matrix (internal/faults, docs/faults.md), knockc at %s:\n%s", gitDescribe(), table)
		if err := os.WriteFile(filepath.Join(dir, "faults.txt"), []byte(text), 0o644); err != nil {
			t.Errorf("write the matrix to KNOCKC_REPORT_DIR: %v", err)
		}
	}
}

// runRow builds the setup, starts the stranger, runs the fault, lets the
// state settle and measures.
func runRow(t *testing.T, r row, s setup) result {
	e, specA := newEnv(t, s, r.opts)
	run := &run{env: e, specA: specA, labels: map[string]string{specA: "A"}}
	str := e.startStranger()
	time.Sleep(100 * time.Millisecond)
	r.fault(run)

	// Let the state settle: until the end state is right (or, for rows
	// that watch the aftermath, for the whole time), then a little more.
	deadline := time.Now().Add(r.settle)
	for time.Now().Before(deadline) {
		if !r.watch {
			if ok, _ := run.endState(); ok {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	x := str.finish()

	res := result{row: r.name, setup: s.name, x: x, mustEnd: r.repaired, note: joinNotes(e.setupNote, run.note)}
	res.endOK, res.end = run.endState()
	switch {
	case run.grants != "":
		res.grants = run.grants
	case e.granted:
		c := e.knocker
		if got := c.Connect(c.ServerV4, protected, 500*time.Millisecond); got == netns.Open {
			res.grants = "0"
		} else {
			res.grants = "1"
		}
	default:
		res.grants = "-"
	}
	if err := e.session.alive("after the fault"); err != nil {
		res.sessionsLost = 1
		t.Errorf("%s, %s setup: the knocker's established session did not survive: %v", r.name, s.name, err)
	}
	res.mustClose = s.failClosed && !(s.mark && r.noHostFirewall)
	if res.mustClose && x.opens > 0 {
		t.Errorf("%s, %s setup: a stranger completed %d handshakes with the protected port (longest window %v); a fail-closed setup must never open",
			r.name, s.name, x.opens, x.longest)
	}
	if r.repaired && !res.endOK {
		t.Errorf("%s, %s setup: end state %s, want %s\nmonitor log:\n%s", r.name, s.name, res.end, run.wantText(), e.monitorLog())
	}
	return res
}

// run is one row's fault in one setup: what the fault left for the
// measurement.
type run struct {
	*env
	specA  string
	labels map[string]string // spec path → its name in the table
	want   []string          // acceptable end states: spec paths, "" for no table
	grants string            // grants lost, when the row counts them itself
	note   string
}

// endState reports whether knockc's table equals one of the wanted end
// states, and what it is: no table, one of the row's specs, or drift from
// the first wanted spec (the plan's summary).
func (r *run) endState() (bool, string) {
	want := r.want
	if want == nil {
		want = []string{r.specA}
	}
	is := r.describe()
	for _, w := range want {
		if w == "" && is == "no table" || w != "" && is == "spec "+r.labels[w] {
			return true, is
		}
	}
	if is != "" {
		return false, is
	}
	for _, w := range want {
		if w != "" {
			_, out := r.knockc("plan", "--netns", r.server.Path(), w)
			return false, "drift from " + r.labels[w] + ": " + lineWith(out, "Plan:")
		}
	}
	_, out := r.knockc("plan", "--netns", r.server.Path(), r.specA)
	return false, "drift from A: " + lineWith(out, "Plan:")
}

// describe returns "no table", "spec X" when the table equals the row's
// spec X exactly (plan clean), or "" for anything else.
func (r *run) describe() string {
	if _, err := r.server.Exec("nft", "list", "table", "inet", "knockc"); err != nil {
		return "no table"
	}
	for path, label := range r.labels {
		if code, _ := r.knockc("plan", "--detailed-exitcode", "--netns", r.server.Path(), path); code == 0 {
			return "spec " + label
		}
	}
	return ""
}

func (r *run) wantText() string {
	want := r.want
	if want == nil {
		want = []string{r.specA}
	}
	var s []string
	for _, w := range want {
		if w == "" {
			s = append(s, "no table")
		} else {
			s = append(s, "spec "+r.labels[w])
		}
	}
	return strings.Join(s, " or ")
}

// lineWith returns the last line of s that contains sub, trimmed, or the
// last line of s.
func lineWith(s, sub string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], sub) {
			return strings.TrimSpace(lines[i])
		}
	}
	return strings.TrimSpace(lines[len(lines)-1])
}

// stranger connects to the protected port from an address that never
// knocked, one attempt after the other with a 100 ms timeout.
type stranger struct {
	stop     chan struct{}
	done     chan struct{}
	attempts []attempt
}

func (e *env) startStranger() *stranger {
	s := &stranger{stop: make(chan struct{}), done: make(chan struct{})}
	c := e.stranger
	go func() {
		defer close(s.done)
		for {
			select {
			case <-s.stop:
				return
			default:
			}
			a := attempt{start: time.Now()}
			a.open = c.Connect(c.ServerV4, protected, 100*time.Millisecond) == netns.Open
			a.end = time.Now()
			s.attempts = append(s.attempts, a)
			time.Sleep(time.Millisecond)
		}
	}()
	return s
}

// finish stops the stranger and measures its attempts.
func (s *stranger) finish() exposure {
	close(s.stop)
	<-s.done
	return measure(s.attempts)
}

// formatTable renders the matrix as aligned text.
func formatTable(lines []result) string {
	head := []string{"fault", "setup", "open to stranger", "grants lost", "sessions lost", "end state"}
	cells := [][]string{head}
	var notes []string
	for _, l := range lines {
		open := "0 ms"
		if l.x.opens > 0 {
			open = fmt.Sprintf("%d ms (%d of %d tries)", l.x.longest.Milliseconds(), l.x.opens, l.x.tries)
			if l.x.atEnd {
				open = "≥" + open + ", still open"
			}
		} else if l.x.tries > 0 {
			open = fmt.Sprintf("0 ms (0 of %d)", l.x.tries)
		}
		if l.mustClose {
			open += " (must)"
		}
		end := l.end
		if !l.endOK {
			end = "WRONG: " + end
		}
		if l.mustEnd {
			end += " (must)"
		}
		cells = append(cells, []string{l.row, l.setup, open, l.grants, fmt.Sprint(l.sessionsLost), end})
		if l.note != "" {
			notes = append(notes, fmt.Sprintf("%s/%s: %s", l.row, l.setup, l.note))
		}
	}
	widths := make([]int, len(head))
	for _, row := range cells {
		for i, c := range row {
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	var b strings.Builder
	for n, row := range cells {
		for i, c := range row {
			if i == len(row)-1 {
				b.WriteString(c)
			} else {
				b.WriteString(c + strings.Repeat(" ", widths[i]-len([]rune(c))+2))
			}
		}
		b.WriteString("\n")
		if n == 0 {
			for i, w := range widths {
				b.WriteString(strings.Repeat("-", w))
				if i < len(widths)-1 {
					b.WriteString("  ")
				}
			}
			b.WriteString("\n")
		}
	}
	for _, n := range notes {
		b.WriteString(n + "\n")
	}
	return b.String()
}

// gitDescribe names the commit under test, or "an unknown commit".
func gitDescribe() string {
	out, err := exec.Command("git", "log", "-1", "--format=%h %s").Output()
	if err != nil {
		return "an unknown commit"
	}
	return strings.TrimSpace(string(out))
}

// joinNotes joins the non-empty notes with "; ".
func joinNotes(notes ...string) string {
	var keep []string
	for _, n := range notes {
		if n != "" {
			keep = append(keep, n)
		}
	}
	return strings.Join(keep, "; ")
}
