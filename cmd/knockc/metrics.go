//go:build linux

package main

import (
	"context"
	"log/slog"
	"sync"

	"github.com/knockc/knockc/internal/metrics"
	"github.com/knockc/knockc/ruleset/nftkernel"
	"github.com/urfave/cli/v2"
)

var metricsFlag = &cli.StringFlag{
	Name:  "metrics-listen",
	Usage: "serve Prometheus metrics on this address (e.g. 127.0.0.1:9642) at /metrics; off by default",
}

// startMetrics starts the metrics endpoint on addr and returns the logger
// that feeds it (every log record naming an event is counted). The set
// fill is read from knockc's table at each scrape over a connection of
// its own.
func startMetrics(ctx context.Context, addr, table string, log *slog.Logger) (*slog.Logger, error) {
	var mu sync.Mutex
	fill := func() ([]metrics.SetFill, error) {
		mu.Lock()
		defer mu.Unlock()
		conn, err := nftkernel.Open("")
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		t, err := conn.ReadConfig(table)
		if err != nil || t == nil {
			return nil, err
		}
		var out []metrics.SetFill
		for _, s := range t.Sets {
			elems, err := conn.Elements(table, s.Name)
			if err != nil {
				return nil, err
			}
			out = append(out, metrics.SetFill{Set: s.Name, Elements: len(elems), Capacity: int(s.Size)})
		}
		return out, nil
	}
	m := metrics.New(fill)
	log = slog.New(m.Handler(log.Handler()))
	if _, err := m.Start(ctx, addr, log); err != nil {
		return nil, fail(err)
	}
	return log, nil
}
