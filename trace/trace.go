// Package trace records what a chip does while it runs samples, cycle by
// cycle, as a Chrome trace-event file (the JSON object format with
// traceEvents) that ui.perfetto.dev and chrome://tracing open: a track
// per tile (crossbar reads and neuron updates, labelled with layer and
// timestep), a track of time slots ending at each timestep's global
// barrier, a track per router (packet grants and ejections) with a counter
// of the flits its input buffers hold, a track per link (busy while flits
// follow each other on it), packets as async spans from injection to their
// last delivery, and counters of the packets each network interface has in
// flight. It is fed by the chip's
// and the network's observers; a run without a trace pays nothing.
package trace

import (
	"encoding/json"
	"fmt"

	"github.com/nmsim/nmsim/chip"
	"github.com/nmsim/nmsim/internal/atomicfile"
	"github.com/nmsim/nmsim/sim"
	"github.com/nmsim/nmsim/workloads/dataset"
	"github.com/nmsim/nmsim/workloads/model"
)

// MaxEvents bounds a trace (about 90 bytes each in the file; an MNIST
// sample of models/mnist-convert.bin makes 55,000): Record refuses to go
// on past it.
const MaxEvents = 1_000_000

// Process ids of the trace's groups of tracks.
const (
	pidChip    = 1 // tid 0: samples, tid 1: time slots
	pidTiles   = 2 // tid: tile
	pidRouters = 3 // tid: router (= its tile)
	pidPackets = 4 // async packet spans and in-flight counters
	pidLinks   = 5 // tid: link, numbered as first used
)

// Event is one Chrome trace event. Times are in µs (ts, dur), from the
// cycles at the chip clock; args hold the cycles themselves.
type Event struct {
	Name string         `json:"name"`
	Cat  string         `json:"cat,omitempty"`
	Ph   string         `json:"ph"`
	TS   float64        `json:"ts"`
	Dur  float64        `json:"dur,omitempty"`
	PID  int            `json:"pid"`
	TID  int            `json:"tid"`
	ID   int64          `json:"id,omitempty"`
	S    string         `json:"s,omitempty"` // instant event scope
	Args map[string]any `json:"args,omitempty"`
}

// File is the trace as written: the events and what they were made from.
type File struct {
	TraceEvents     []Event `json:"traceEvents"`
	DisplayTimeUnit string  `json:"displayTimeUnit"`
	OtherData       Meta    `json:"otherData"`
}

// Meta describes the traced run.
type Meta struct {
	Model    string  `json:"model"`
	ClockMHz float64 `json:"clock_mhz"`
	Samples  int     `json:"samples"`
	// Cycles per sample, as the run counts them (the sum of its time
	// slots); SampleStart where each begins on the trace's clock.
	Cycles      []int64 `json:"cycles"`
	SampleStart []int64 `json:"sample_start_cycle"`
}

// recorder is the chip and network observer that builds a File.
type recorder struct {
	f      File
	layers []string
	width  int
	base   sim.Cycle // the current sample's first cycle on the trace clock
	err    error
	// packets: per network packet id (reused by the network once a
	// packet is delivered), its trace span id and source tile; inFlight
	// per source tile.
	span     map[int32]int64
	src      map[int32]int
	nextSpan int64
	inFlight []int
	// links: per (from, to) router pair its track, and the index in
	// TraceEvents of its last busy span (extended while flits follow
	// each other).
	links map[[2]int]*link
}

// link is one link's track.
type link struct {
	tid  int
	last int       // index of its last span in TraceEvents (−1: none)
	end  sim.Cycle // that span's end, on the trace clock
}

// Record runs the first n samples of set (T timesteps each) on a fresh
// worker of ch, one after the other, and returns their trace. Sample i is
// keyed i, as a run keys it, so its cycles are the run's.
func Record(ch *chip.Chip, set *dataset.Set, n, T int) (*File, error) {
	if n < 1 || n > set.Len() {
		return nil, fmt.Errorf("trace: %d samples of %d", n, set.Len())
	}
	pl := ch.Placement()
	r := &recorder{
		width: pl.Width, span: map[int32]int64{}, src: map[int32]int{}, inFlight: make([]int, pl.Width*pl.Height),
		links: map[[2]int]*link{},
	}
	r.f.DisplayTimeUnit = "ns"
	r.f.OtherData = Meta{Model: ch.Model().Name, ClockMHz: ch.Config().Chip.ClockMHz, Samples: n}
	for i := range pl.Layers {
		r.layers = append(r.layers, pl.Layers[i].Name)
	}
	r.names(pl.Width * pl.Height)
	w := ch.NewWorker()
	w.Observe(r, r)
	for i := range n {
		res := w.Infer(set.Image(i), uint64(i), T, model.Hooks{})
		if r.err != nil {
			return nil, r.err
		}
		if res.NoCErr != nil {
			return nil, fmt.Errorf("trace: sample %d: %w", i, res.NoCErr)
		}
		r.complete(pidChip, 0, fmt.Sprintf("sample %d", i), "sample", 0, sim.Cycle(res.Cycles), map[string]any{
			"sample": i, "label": set.Labels[i], "class": res.Class, "cycles": res.Cycles,
		})
		r.f.OtherData.Cycles = append(r.f.OtherData.Cycles, res.Cycles)
		r.f.OtherData.SampleStart = append(r.f.OtherData.SampleStart, int64(r.base))
		r.base += sim.Cycle(res.Cycles)
	}
	return &r.f, nil
}

// WriteFile writes the trace to path atomically.
func (f *File) WriteFile(path string) error {
	data, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("trace: %w", err)
	}
	if err := atomicfile.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("trace: %w", err)
	}
	return nil
}

// names labels the processes and threads.
func (r *recorder) names(tiles int) {
	meta := func(name string, pid, tid int, value string) {
		r.add(Event{Name: name, Ph: "M", PID: pid, TID: tid, Args: map[string]any{"name": value}})
	}
	meta("process_name", pidChip, 0, "chip")
	meta("thread_name", pidChip, 0, "samples")
	meta("thread_name", pidChip, 1, "time slots (global barrier)")
	meta("process_name", pidTiles, 0, "tiles")
	meta("process_name", pidRouters, 0, "routers")
	meta("process_name", pidPackets, 0, "packets")
	meta("process_name", pidLinks, 0, "links")
	for t := range tiles {
		x, y := t%r.width, t/r.width
		meta("thread_name", pidTiles, t, fmt.Sprintf("tile (%d,%d)", x, y))
		meta("thread_name", pidRouters, t, fmt.Sprintf("router (%d,%d)", x, y))
	}
}

// add appends e, or reports false (and sets r.err) when the trace is full.
func (r *recorder) add(e Event) bool {
	if len(r.f.TraceEvents) >= MaxEvents {
		if r.err == nil {
			r.err = fmt.Errorf("trace: more than %d events: trace fewer samples (--trace-samples)", MaxEvents)
		}
		return false
	}
	r.f.TraceEvents = append(r.f.TraceEvents, e)
	return true
}

// us converts a cycle of the current sample to µs on the trace clock.
func (r *recorder) us(c sim.Cycle) float64 {
	return float64(r.base+c) / r.f.OtherData.ClockMHz
}

// complete adds an interval [start, end) of the current sample.
func (r *recorder) complete(pid, tid int, name, cat string, start, end sim.Cycle, args map[string]any) {
	args["start_cycle"] = int64(r.base + start)
	r.add(Event{Name: name, Cat: cat, Ph: "X", TS: r.us(start), Dur: r.us(end) - r.us(start), PID: pid, TID: tid, Args: args})
}

// Read implements chip.Observer.
func (r *recorder) Read(layer, t, tile int, start, end sim.Cycle) {
	r.complete(pidTiles, tile, "read "+r.layers[layer], "crossbar", start, end, map[string]any{
		"layer": r.layers[layer], "timestep": t, "cycles": int64(end - start),
	})
}

// Update implements chip.Observer.
func (r *recorder) Update(layer, t, tile int, start, end sim.Cycle, neurons int) {
	r.complete(pidTiles, tile, "update "+r.layers[layer], "neuron", start, end, map[string]any{
		"layer": r.layers[layer], "timestep": t, "cycles": int64(end - start), "neurons": neurons,
	})
}

// Barrier implements chip.Observer.
func (r *recorder) Barrier(k int, start, end sim.Cycle) {
	r.complete(pidChip, 1, fmt.Sprintf("slot %d", k), "barrier", start, end, map[string]any{
		"slot": k, "cycles": int64(end - start),
	})
}

// Injected implements noc.Observer.
func (r *recorder) Injected(id int32, src int, t sim.Cycle) {
	r.nextSpan++
	r.span[id], r.src[id] = r.nextSpan, src
	r.add(Event{Name: "packet", Cat: "noc", Ph: "b", TS: r.us(t), PID: pidPackets, TID: src, ID: r.nextSpan, Args: map[string]any{"src": src}})
	r.inFlight[src]++
	r.counter(src, t)
}

// Granted implements noc.GrantObserver.
func (r *recorder) Granted(id int32, router int, t sim.Cycle) {
	r.add(Event{Name: "grant", Cat: "noc", Ph: "i", S: "t", TS: r.us(t), PID: pidRouters, TID: router, Args: map[string]any{"packet": r.span[id]}})
}

// Ejected implements noc.Observer.
func (r *recorder) Ejected(id int32, dst int, t sim.Cycle, latency int64, hops int, last bool) {
	r.add(Event{Name: "eject", Cat: "noc", Ph: "i", S: "t", TS: r.us(t), PID: pidRouters, TID: dst, Args: map[string]any{
		"packet": r.span[id], "latency_cycles": latency, "hops": hops,
	}})
	if !last {
		return
	}
	src := r.src[id]
	r.add(Event{Name: "packet", Cat: "noc", Ph: "e", TS: r.us(t), PID: pidPackets, TID: src, ID: r.span[id]})
	delete(r.span, id)
	delete(r.src, id)
	r.inFlight[src]--
	r.counter(src, t)
}

// Dropped implements noc.Observer; a chip's network drops nothing.
func (r *recorder) Dropped(int32) {}

// Crossed implements noc.LinkObserver: a link's track shows it busy while
// flits follow each other on it.
func (r *recorder) Crossed(from, to int, start, end sim.Cycle) {
	l := r.links[[2]int{from, to}]
	if l == nil {
		l = &link{tid: len(r.links), last: -1}
		r.links[[2]int{from, to}] = l
		r.add(Event{Name: "thread_name", Ph: "M", PID: pidLinks, TID: l.tid, Args: map[string]any{
			"name": fmt.Sprintf("link (%d,%d)→(%d,%d)", from%r.width, from/r.width, to%r.width, to/r.width),
		}})
	}
	start, end = r.base+start, r.base+end
	if l.last >= 0 && start <= l.end {
		e := &r.f.TraceEvents[l.last]
		l.end = max(l.end, end)
		e.Dur = float64(l.end)/r.f.OtherData.ClockMHz - e.TS
		e.Args["cycles"] = int64(l.end) - e.Args["start_cycle"].(int64)
		e.Args["flits"] = e.Args["flits"].(int) + 1
		return
	}
	l.last, l.end = len(r.f.TraceEvents), end
	if !r.add(Event{Name: "flits", Cat: "link", Ph: "X", TS: float64(start) / r.f.OtherData.ClockMHz, Dur: float64(end-start) / r.f.OtherData.ClockMHz,
		PID: pidLinks, TID: l.tid, Args: map[string]any{"start_cycle": int64(start), "cycles": int64(end - start), "flits": 1}}) {
		l.last = -1
	}
}

// Buffered implements noc.BufferObserver.
func (r *recorder) Buffered(router, flits int, t sim.Cycle) {
	r.add(Event{Name: fmt.Sprintf("buffered (%d,%d)", router%r.width, router/r.width), Ph: "C", TS: r.us(t), PID: pidRouters, TID: router,
		Args: map[string]any{"flits": flits}})
}

// counter records the packets tile src's network interface has in flight.
func (r *recorder) counter(src int, t sim.Cycle) {
	r.add(Event{Name: fmt.Sprintf("in flight (%d,%d)", src%r.width, src/r.width), Ph: "C", TS: r.us(t), PID: pidPackets, TID: src,
		Args: map[string]any{"packets": r.inFlight[src]}})
}
