//go:build linux

package nftkernel_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/knockc/knockc/compiler"
	"github.com/knockc/knockc/internal/testenv/netns"
	"github.com/knockc/knockc/internal/testenv/specgen"
	"github.com/knockc/knockc/ruleset"
	"github.com/knockc/knockc/ruleset/nftkernel"
)

// benchDoors are the door counts of the control-plane benchmarks. The
// targets of docs/design.md: apply of 100 doors ≤ 50 ms and no slower than `nft -f` of the same
// rules, plan of 100 doors ≤ 30 ms, cost linear in doors. Their doors
// declare specgen.SmallSets, so what is timed is knockc and nf_tables, not
// the kernel allocating hash buckets for big sets (see
// BenchmarkApplyDefaultSets).
var benchDoors = []int{1, 10, 100, 1000}

// defaultSetDoors are the door counts at the compiler's default set sizes:
// each door then pins about 16 MiB of kernel memory, so 1000 doors (16 GiB)
// are left out.
var defaultSetDoors = []int{1, 10, 100}

// benchEnv is a throwaway namespace, a connection into it and the compiled
// table of a generated spec.
type benchEnv struct {
	ns   *netns.NS
	conn *nftkernel.Conn
	want *ruleset.Table
}

// newBenchEnv compiles a spec of n doors with the given flood_rate (0: the
// default) and opens nf_tables in a fresh namespace; it skips without root
// (fails under CI=true).
func newBenchEnv(b *testing.B, n, floodRate int) *benchEnv {
	b.Helper()
	netns.RequireRoot(b, "nft")
	spec, err := compiler.Parse("gen.toml", specgen.Doors(n, floodRate))
	if err != nil {
		b.Fatalf("compiler.Parse(Doors(%d, %d)) = %v", n, floodRate, err)
	}
	ns := netns.New(b, "kbench")
	conn, err := nftkernel.Open(ns.Path())
	if err != nil {
		b.Fatalf("Open(%q) = %v", ns.Path(), err)
	}
	b.Cleanup(func() { conn.Close() })
	return &benchEnv{ns: ns, conn: conn, want: compiler.Compile(spec)}
}

// reportSize adds the table's rule and set counts to the results, so the
// cost per rule can be read off.
func (e *benchEnv) reportSize(b *testing.B) {
	b.Helper()
	rules := 0
	for _, c := range e.want.Chains {
		rules += len(c.Rules)
	}
	b.ReportMetric(float64(rules), "rules/op")
	b.ReportMetric(float64(len(e.want.Sets)), "sets/op")
}

func (e *benchEnv) apply(b *testing.B) {
	b.Helper()
	if err := e.conn.Apply(e.want, nil); err != nil {
		b.Fatalf("Apply(%d chains, %d sets, nil) = %v", len(e.want.Chains), len(e.want.Sets), err)
	}
}

func (e *benchEnv) delete(b *testing.B) {
	b.Helper()
	if err := e.conn.Delete(e.want.Name); err != nil {
		b.Fatalf("Delete(%q) = %v", e.want.Name, err)
	}
}

// read returns the table in the kernel, failing when it is absent.
func (e *benchEnv) generation(b *testing.B) uint32 {
	b.Helper()
	g, err := e.conn.Generation()
	if err != nil {
		b.Fatalf("Generation() = %v", err)
	}
	return g
}

// benchApply times a first `knockc apply`: the whole table sent from
// empty in one batch (conversion to netlink messages, the send, the
// kernel's checks and commit). The table is deleted between iterations,
// untimed.
func benchApply(b *testing.B, doors []int, floodRate int) {
	for _, n := range doors {
		b.Run(fmt.Sprintf("doors=%d", n), func(b *testing.B) {
			e := newBenchEnv(b, n, floodRate)
			for b.Loop() {
				e.apply(b)
				b.StopTimer()
				e.delete(b)
				b.StartTimer()
			}
			e.reportSize(b)
		})
	}
}

// BenchmarkApply measures a first `knockc apply` of N doors with small sets.
func BenchmarkApply(b *testing.B) { benchApply(b, benchDoors, specgen.SmallSets) }

// BenchmarkApplyDefaultSets measures a first `knockc apply` of N doors at
// the default set sizes, where the kernel's allocation of each set's hash
// buckets dominates. kernel-MiB is the growth of the kernel's unreclaimable
// slab over one apply: machine-wide, so only its order of magnitude counts.
func BenchmarkApplyDefaultSets(b *testing.B) {
	for _, n := range defaultSetDoors {
		b.Run(fmt.Sprintf("doors=%d", n), func(b *testing.B) {
			e := newBenchEnv(b, n, 0)
			before := slabKiB(b)
			e.apply(b)
			grown := slabKiB(b) - before
			e.delete(b)
			for b.Loop() {
				e.apply(b)
				b.StopTimer()
				e.delete(b)
				b.StartTimer()
			}
			b.ReportMetric(float64(grown)/1024, "kernel-MiB")
			e.reportSize(b)
		})
	}
}

// slabKiB returns the kernel's unreclaimable slab memory, where nf_tables
// keeps sets and rules, from /proc/meminfo.
func slabKiB(b *testing.B) int64 {
	b.Helper()
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "SUnreclaim:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				b.Fatalf("/proc/meminfo: SUnreclaim %q: %v", rest, err)
			}
			return kib
		}
	}
	b.Fatalf("/proc/meminfo has no SUnreclaim line (scan error: %v)", sc.Err())
	return 0
}

// BenchmarkApplyUnchanged measures `knockc apply` of a spec the kernel
// already has: read the table back, diff, and send nothing. It fails if
// the ruleset generation moves, i.e. if anything was sent.
func BenchmarkApplyUnchanged(b *testing.B) {
	for _, n := range benchDoors {
		b.Run(fmt.Sprintf("doors=%d", n), func(b *testing.B) {
			e := newBenchEnv(b, n, specgen.SmallSets)
			e.apply(b)
			gen := e.generation(b)
			for b.Loop() { // what `knockc apply` does: plan, then apply the plan
				_, have, err := e.conn.Plan(e.want)
				if err != nil {
					b.Fatal(err)
				}
				if err := e.conn.Apply(e.want, have); err != nil {
					b.Fatalf("Apply(unchanged) = %v", err)
				}
			}
			if got := e.generation(b); got != gen {
				b.Fatalf("Generation() after unchanged applies = %d, want %d (nothing sent)", got, gen)
			}
			e.reportSize(b)
		})
	}
}

// BenchmarkPlan measures `knockc plan` against the applied table: read it
// back over netlink (sets and rules; elements only of sets the plan would
// reset, none here) and diff it with the wanted one. The plan must be empty.
func BenchmarkPlan(b *testing.B) {
	for _, n := range benchDoors {
		b.Run(fmt.Sprintf("doors=%d", n), func(b *testing.B) {
			e := newBenchEnv(b, n, specgen.SmallSets)
			e.apply(b)
			for b.Loop() {
				p, _, err := e.conn.Plan(e.want)
				if err != nil {
					b.Fatal(err)
				}
				if !p.Empty() {
					b.Fatalf("Plan(want) = %s, want no changes", p)
				}
			}
			e.reportSize(b)
		})
	}
}

// benchNftF times `ip netns exec NS nft -f FILE` of ruleset.Render's text
// for the same table benchApply sends, from empty, deleting the table
// between iterations, untimed. The time includes starting ip and nft;
// excl-startup-ns/op subtracts the median time of the same command on an
// empty file (startup-ns), which leaves nft's parsing and evaluation, the
// send and the kernel's commit.
func benchNftF(b *testing.B, doors []int, floodRate int) {
	for _, n := range doors {
		b.Run(fmt.Sprintf("doors=%d", n), func(b *testing.B) {
			e := newBenchEnv(b, n, floodRate)
			dir := b.TempDir()
			file := filepath.Join(dir, "table.nft")
			empty := filepath.Join(dir, "empty.nft")
			if err := os.WriteFile(file, []byte(ruleset.Render(e.want)), 0o644); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(empty, nil, 0o644); err != nil {
				b.Fatal(err)
			}
			startup := e.medianNftF(b, empty, 5)
			for b.Loop() {
				e.ns.Run(b, "nft", "-f", file)
				b.StopTimer()
				e.delete(b)
				b.StartTimer()
			}
			perOp := b.Elapsed() / time.Duration(b.N)
			b.ReportMetric(float64(startup.Nanoseconds()), "startup-ns")
			b.ReportMetric(float64((perOp - startup).Nanoseconds()), "excl-startup-ns/op")
			e.reportSize(b)
		})
	}
}

// BenchmarkNftF is BenchmarkApply's table loaded by nft instead.
func BenchmarkNftF(b *testing.B) { benchNftF(b, benchDoors, specgen.SmallSets) }

// BenchmarkNftFDefaultSets is BenchmarkApplyDefaultSets' table loaded by
// nft instead.
func BenchmarkNftFDefaultSets(b *testing.B) { benchNftF(b, defaultSetDoors, 0) }

// medianNftF returns the median time of runs of `nft -f file` in the
// namespace.
func (e *benchEnv) medianNftF(b *testing.B, file string, runs int) time.Duration {
	b.Helper()
	ds := make([]time.Duration, runs)
	for i := range ds {
		start := time.Now()
		e.ns.Run(b, "nft", "-f", file)
		ds[i] = time.Since(start)
	}
	slices.Sort(ds)
	return ds[runs/2]
}
