// Package metrics is the monitor's opt-in Prometheus endpoint
// (knockc monitor --metrics-listen ADDR), in the Prometheus text format. Event counters and the service
// start and grant latency histograms are fed by the monitor's own log
// records: every line that names an event (the "event" attribute, the
// KNOCKC_EVENT of the journal) is counted per door, so metrics and logs
// never disagree and the monitor needs no second set of hooks. Set fill
// per door is read from the kernel at each scrape. docs/operations.md
// lists the metrics.
package metrics
