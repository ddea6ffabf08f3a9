package noc

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/nmsim/nmsim/sim"
)

// BenchmarkUniform reports time per simulated cycle for uniform traffic
// of 1-flit packets on k×k meshes (the default 3-stage router, 2 VCs × 4
// flits): at 0.2 flits/node/cycle (past saturation for 16×16 and 32×32,
// whose bisection bounds are 0.25 and 0.125) and at a light 0.02, where
// most routers sleep most cycles. µs/cycle is wall time; cpu-µs/cycle is
// the process's CPU time, the fairer figure on a shared machine.
//
//	go test ./noc -run '^$' -bench Uniform -benchtime 3x
func BenchmarkUniform(b *testing.B) {
	for _, rate := range []float64{0.2, 0.02} {
		for _, k := range []int{8, 16, 32} {
			b.Run(fmt.Sprintf("%dx%d/rate=%g", k, k, rate), func(b *testing.B) {
				cfg := netConfig(k, k, "mesh", nil)
				tr := Traffic{Pattern: "uniform", Rate: rate, PacketFlits: 1, Warmup: 200, Measure: 2000, Seed: 1}
				var cycles int64
				cpu0 := cpuTime()
				for b.Loop() {
					r, err := Run(cfg, tr)
					if err != nil {
						b.Fatal(err)
					}
					cycles += r.Cycles
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e3/float64(cycles), "µs/cycle")
				b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/1e3/float64(cycles), "cpu-µs/cycle")
			})
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// nopObserver watches and does nothing.
type nopObserver struct{}

func (nopObserver) Injected(int32, int, sim.Cycle)                  {}
func (nopObserver) Granted(int32, int, sim.Cycle)                   {}
func (nopObserver) Ejected(int32, int, sim.Cycle, int64, int, bool) {}
func (nopObserver) Dropped(int32)                                   {}

// BenchmarkObserver times a round of traffic (every tile of an 8×8 mesh
// sends two 3-flit packets to another) without an observer and with one
// that does nothing: the hooks' cost when nobody, or a trivial observer,
// watches.
//
//	go test ./noc -run '^$' -bench Observer -count 5
func BenchmarkObserver(b *testing.B) {
	for _, name := range []string{"nil", "nop"} {
		b.Run(name, func(b *testing.B) {
			n := NewNet(netConfig(8, 8, "mesh", nil))
			if name == "nop" {
				n.Observe(nopObserver{})
			}
			var e sim.Engine
			for b.Loop() {
				e.Reset(0)
				for src := range 64 {
					n.Send(&e, src, (src*37+11)%64, 2, 3, nil)
				}
				e.Run()
			}
		})
	}
}
