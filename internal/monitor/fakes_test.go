package monitor

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"time"

	"github.com/knockc/knockc/ruleset"
)

// fakeKernel holds sets in memory, with element expiry like the kernel's.
type fakeKernel struct {
	mu    sync.Mutex
	sets  map[string]map[netip.Addr]time.Time // set → addr → expiry
	moves int
	log   *[]string // calls in order, shared with fakeService
}

func newFakeKernel(log *[]string) *fakeKernel {
	return &fakeKernel{sets: map[string]map[netip.Addr]time.Time{}, log: log}
}

func (k *fakeKernel) put(set string, a netip.Addr, d time.Duration) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.sets[set] == nil {
		k.sets[set] = map[netip.Addr]time.Time{}
	}
	k.sets[set][a] = time.Now().Add(d)
}

func (k *fakeKernel) del(set string, a netip.Addr) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.sets[set], a)
}

func (k *fakeKernel) has(set string, a netip.Addr) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	end, ok := k.sets[set][a]
	return ok && time.Now().Before(end)
}

func (k *fakeKernel) Elements(table, set string) ([]ruleset.Element, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []ruleset.Element
	for a, end := range k.sets[set] {
		if left := time.Until(end); left > 0 {
			out = append(out, ruleset.Element{Addr: a, Expires: left})
		}
	}
	return out, nil
}

func (k *fakeKernel) Move(table, from, to string, a netip.Addr, timeout time.Duration) error {
	k.mu.Lock()
	k.moves++
	*k.log = append(*k.log, "move "+a.String()+" to "+to)
	k.mu.Unlock()
	k.put(to, a, timeout)
	if from != "" {
		k.del(from, a)
	}
	return nil
}

func (k *fakeKernel) Remove(table, set string, a netip.Addr) error {
	k.mu.Lock()
	*k.log = append(*k.log, "remove "+a.String()+" from "+set)
	k.mu.Unlock()
	k.del(set, a)
	return nil
}

// fakeVerdicts records the verdict given to each held packet.
type fakeVerdicts struct {
	mu  sync.Mutex
	got map[uint32]string
}

func (v *fakeVerdicts) set(id uint32, verdict string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.got == nil {
		v.got = map[uint32]string{}
	}
	v.got[id] = verdict
	return nil
}

func (v *fakeVerdicts) Accept(id uint32) error { return v.set(id, "accept") }
func (v *fakeVerdicts) Repeat(id uint32) error { return v.set(id, "repeat") }
func (v *fakeVerdicts) Drop(id uint32) error   { return v.set(id, "drop") }

func (v *fakeVerdicts) of(id uint32) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.got[id]
}

// fakeService records starts and stops; startErr makes Start fail.
type fakeService struct {
	mu       sync.Mutex
	active   bool
	starts   int
	stops    int
	startErr error
	log      *[]string
}

func (s *fakeService) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.startErr != nil {
		return s.startErr
	}
	s.starts++
	s.active = true
	*s.log = append(*s.log, "start")
	return nil
}

func (s *fakeService) Stop(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stops++
	s.active = false
	*s.log = append(*s.log, "stop")
	return nil
}

func (s *fakeService) Active(ctx context.Context) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active, nil
}

func (s *fakeService) String() string { return "fake service" }

func (s *fakeService) counts() (starts, stops int, active bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.starts, s.stops, s.active
}

func (s *fakeService) failStart(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.startErr = err
}

var errNoStart = errors.New("unit failed")
