package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	vm "github.com/VictoriaMetrics/metrics"
	"github.com/knockc/knockc/compiler"
)

// SetFill is how full one of knockc's sets is.
type SetFill struct {
	Set      string
	Elements int
	Capacity int
}

// Bucket bounds (seconds) of the two histograms.
var (
	startBuckets   = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
	latencyBuckets = []float64{0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}
)

// Metrics holds the monitor's metrics in a set of their own
// (github.com/VictoriaMetrics/metrics: the Prometheus text format at a
// fraction of client_golang's memory, which matters for a daemon meant
// to stay under 20 MB).
type Metrics struct {
	set  *vm.Set
	fill func() ([]SetFill, error)

	mu        sync.Mutex
	queueSeen map[string]float64 // the totals the last queue_drop record gave
}

// New returns the metrics; fill, when not nil, is called at each scrape
// for the fill of knockc's sets (an error is written as a comment and
// the fill left out).
func New(fill func() ([]SetFill, error)) *Metrics {
	return &Metrics{set: vm.NewSet(), fill: fill, queueSeen: map[string]float64{}}
}

// event counts one event of door.
func (m *Metrics) event(door, event string) {
	m.set.GetOrCreateCounter(fmt.Sprintf(`knockc_events_total{door=%q,event=%q}`, door, event)).Inc()
}

func (m *Metrics) held(door, outcome string, n float64) {
	m.set.GetOrCreateFloatCounter(fmt.Sprintf(`knockc_held_packets_total{door=%q,outcome=%q}`, door, outcome)).Add(n)
}

func (m *Metrics) queueDrops(where string, n float64) {
	m.set.GetOrCreateFloatCounter(fmt.Sprintf(`knockc_queue_dropped_packets_total{where=%q}`, where)).Add(n)
}

func (m *Metrics) serviceStart(door string, d time.Duration) {
	m.set.GetOrCreatePrometheusHistogramExt(fmt.Sprintf(`knockc_service_start_seconds{door=%q}`, door), startBuckets).Update(d.Seconds())
}

func (m *Metrics) grantLatency(door string, d time.Duration) {
	m.set.GetOrCreatePrometheusHistogramExt(fmt.Sprintf(`knockc_grant_latency_seconds{door=%q}`, door), latencyBuckets).Update(d.Seconds())
}

// WritePrometheus writes every metric in the Prometheus text format: the
// monitor's, the set fill read now, and the process's (memory, CPU, file
// descriptors).
func (m *Metrics) WritePrometheus(w io.Writer) {
	m.set.WritePrometheus(w)
	if m.fill != nil {
		sets, err := m.fill()
		if err != nil {
			fmt.Fprintf(w, "# knockc: set fill not read: %v\n", err)
		}
		for _, s := range sets {
			r, ok := compiler.ParseSetName(s.Set)
			if !ok {
				continue
			}
			labels := fmt.Sprintf(`{door=%q,set=%q,role=%q}`, r.Door, s.Set, string(r.Kind))
			vm.WriteGaugeUint64(w, "knockc_set_elements"+labels, uint64(s.Elements))
			vm.WriteGaugeUint64(w, "knockc_set_capacity"+labels, uint64(s.Capacity))
		}
	}
	vm.WriteProcessMetrics(w)
}

// Start listens on addr and answers GET /metrics there until ctx ends.
// It fails when addr cannot be listened on; serving errors are logged.
func (m *Metrics) Start(ctx context.Context, addr string, log *slog.Logger) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		m.WritePrometheus(w)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics endpoint failed", "err", err)
		}
	}()
	log.Info("metrics endpoint ready", "addr", ln.Addr().String(), "path", "/metrics")
	return ln.Addr(), nil
}
