package trace

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/nmsim/nmsim/arch"
	"github.com/nmsim/nmsim/chip"
	"github.com/nmsim/nmsim/internal/datatest"
	"github.com/nmsim/nmsim/workloads/model"
)

// TestMNISTSampleTrace traces one MNIST sample of the shipped model on the
// preset chip, reads the file back as a viewer would, and checks its event
// kinds and that its tile activity fits its clock: the time slots add up
// to the sample's cycles (the same as an unobserved run's), every crossbar
// read and neuron update lies within its slot and its tile's busy
// intervals neither overlap nor exceed the slot, and each slot ends just
// after its last read, update or packet delivery.
func TestMNISTSampleTrace(t *testing.T) {
	set := datatest.Set(t, "mnist", "test", 1)
	m, err := model.Load("../models/mnist-convert.bin")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := arch.Load("../configs/rram-xnor.toml")
	if err != nil {
		t.Fatal(err)
	}
	ch, err := chip.New(cfg, m, 1)
	if err != nil {
		t.Fatal(err)
	}
	plain := ch.NewWorker().Infer(set.Image(0), 0, m.Timesteps, model.Hooks{})
	f, err := Record(ch, set, 1, m.Timesteps)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "trace.json")
	if err := f.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		TraceEvents []struct {
			Name, Cat, Ph string
			TS, Dur       float64
			PID, TID      int
			Args          map[string]any
		} `json:"traceEvents"`
		OtherData Meta `json:"otherData"`
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.OtherData.Cycles) != 1 || got.OtherData.Cycles[0] != plain.Cycles {
		t.Fatalf("trace says %v cycles, an unobserved run %d", got.OtherData.Cycles, plain.Cycles)
	}
	clock := got.OtherData.ClockMHz
	cyc := func(us float64) int64 { return int64(math.Round(us * clock)) }
	type span struct{ start, end int64 }
	kinds := map[string]int{}
	var slots []span
	busy := map[int][]span{} // per tile
	var last []int64         // per slot: the latest read, update or delivery
	for _, e := range got.TraceEvents {
		kinds[e.Ph+" "+e.Cat]++
		if e.Ph != "X" {
			continue
		}
		s := span{cyc(e.TS), cyc(e.TS + e.Dur)}
		if c, ok := e.Args["cycles"].(float64); !ok || int64(c) != s.end-s.start {
			t.Fatalf("%s: %d cycles from ts and dur, %v in its args", e.Name, s.end-s.start, e.Args["cycles"])
		}
		switch e.Cat {
		case "barrier":
			slots = append(slots, s)
		case "crossbar", "neuron":
			busy[e.TID] = append(busy[e.TID], s)
		}
	}
	for _, k := range []string{"M ", "X sample", "X barrier", "X crossbar", "X neuron", "X link", "b noc", "e noc", "i noc", "C "} {
		if kinds[k] == 0 {
			t.Errorf("no %q events (have %v)", k, kinds)
		}
	}
	// Slots tile the sample: back to back from 0 to its cycles.
	var sum int64
	for i, s := range slots {
		if s.start != sum {
			t.Fatalf("slot %d starts at %d, the one before ended at %d", i, s.start, sum)
		}
		sum = s.end
	}
	if sum != plain.Cycles || len(slots) != m.Timesteps+len(ch.Placement().Layers)-1 {
		t.Fatalf("%d slots add up to %d cycles, the run took %d", len(slots), sum, plain.Cycles)
	}
	slotOf := func(c int64) int {
		return sort.Search(len(slots), func(i int) bool { return slots[i].end > c })
	}
	last = make([]int64, len(slots))
	for tile, spans := range busy {
		sort.Slice(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
		perSlot := make([]int64, len(slots))
		for i, s := range spans {
			k := slotOf(s.start)
			if k == len(slots) || s.end > slots[k].end {
				t.Fatalf("tile %d busy %v outside its slot", tile, s)
			}
			if i > 0 && spans[i-1].end > s.start {
				t.Fatalf("tile %d busy %v and %v at once", tile, spans[i-1], s)
			}
			perSlot[k] += s.end - s.start
			last[k] = max(last[k], s.end)
		}
		for k, b := range perSlot {
			if b > slots[k].end-slots[k].start {
				t.Fatalf("tile %d busy %d cycles in slot %d of %d", tile, b, k, slots[k].end-slots[k].start)
			}
		}
	}
	// Router buffers fill and drain: each router's last count is 0.
	buffered := map[int]float64{}
	full := 0.0
	for _, e := range got.TraceEvents {
		if e.Ph == "C" && e.PID == pidRouters {
			f, _ := e.Args["flits"].(float64)
			buffered[e.TID], full = f, max(full, f)
		}
	}
	for r, f := range buffered {
		if f != 0 {
			t.Errorf("router %d ends holding %v flits", r, f)
		}
	}
	if full == 0 || len(buffered) == 0 {
		t.Error("no router ever buffered a flit")
	}
	for _, e := range got.TraceEvents {
		if e.Ph == "i" && e.Name == "eject" {
			c := cyc(e.TS)
			k := slotOf(c - 1) // a delivery at a slot's last cycle ends it
			last[k] = max(last[k], c)
		}
	}
	// The barrier follows the last activity by the network's trailing
	// events (credits returning): a few cycles, not a share of the slot.
	for k, s := range slots {
		if lastAt := max(last[k], s.start+1); s.end < lastAt || 100*(s.end-lastAt) > s.end-s.start {
			t.Errorf("slot %d [%d, %d) has its last activity at %d", k, s.start, s.end, lastAt)
		}
	}
}
