package chip

import (
	"slices"
	"testing"

	"github.com/nmsim/nmsim/internal/testmodel"
	"github.com/nmsim/nmsim/workloads/model"
)

// TestEarlyExit runs rate-coded samples to the end, recording the scores
// after every timestep, works out from them where each early-exit rule
// must stop, and checks that a run with the rule stops there, with the
// leader's class and exactly the cycles of a run of that many timesteps.
func TestEarlyExit(t *testing.T) {
	rng, m, c := smallChip(t, 3, 4)
	unit := int64(0)
	for _, v := range m.Layers[len(m.Layers)-1].Weights {
		unit = max(unit, int64(v), -int64(v))
	}
	const T = 12
	w := c.NewWorker()
	stopped := 0
	for s := 0; s < 4; s++ {
		x := testmodel.Sample(rng, m)
		var scores [][]int64
		full := w.Infer(x, 0, T, model.Hooks{Step: func(_ int, v []int64) { scores = append(scores, slices.Clone(v)) }})
		for _, e := range []EarlyExit{{0, 1}, {0, 3}, {1, 2}, {3, 1}, {8, 2}, {1e9, 1}} {
			// The rule, spelt out: the step at whose end the same class
			// has led by the margin for e.Steps steps.
			want, lead, run := 0, -1, 0
			for k, v := range scores {
				order := slices.Clone(v)
				slices.Sort(order)
				best := model.Argmax(v)
				if float64(order[len(order)-1]-order[len(order)-2]) < e.Margin*float64(unit) {
					lead, run = -1, 0
					continue
				}
				if best != lead {
					lead, run = best, 0
				}
				if run++; run == e.Steps {
					want = k + 1
					break
				}
			}
			if err := w.SetEarlyExit(e); err != nil {
				t.Fatal(err)
			}
			got := w.Infer(x, 0, T, model.Hooks{})
			w.SetEarlyExit(EarlyExit{})
			if got.Decision != want {
				t.Fatalf("sample %d, %+v: stopped after %d steps, want %d", s, e, got.Decision, want)
			}
			if want == 0 {
				if got.Class != full.Class || got.Cycles != full.Cycles {
					t.Errorf("sample %d, %+v: never settled, but class %d cycles %d differ from the full run's %d, %d", s, e, got.Class, got.Cycles, full.Class, full.Cycles)
				}
				continue
			}
			stopped++
			short := w.Infer(x, 0, want, model.Hooks{})
			if got.Class != model.Argmax(scores[want-1]) || got.Cycles != short.Cycles {
				t.Errorf("sample %d, %+v: class %d cycles %d, want %d and a %d-step run's %d cycles", s, e, got.Class, got.Cycles, model.Argmax(scores[want-1]), want, short.Cycles)
			}
		}
	}
	if stopped == 0 {
		t.Fatal("no rule stopped a sample early: the test checks nothing")
	}
	if err := w.SetEarlyExit(EarlyExit{Margin: -1, Steps: 1}); err == nil {
		t.Error("a negative margin is accepted")
	}
}

// TestEarlyExitSumShift: the margin is in units of the output layer's
// largest weight as it reaches the membrane, so a model whose sums are
// shifted, with its thresholds and biases scaled to match, stops where
// the unshifted one does.
func TestEarlyExitSumShift(t *testing.T) {
	rng, m, c := smallChip(t, 3, 4)
	s := shifted(m, []int{2, 9, 4, 7}, nil)
	cs, err := New(c.Config(), s, 1)
	if err != nil {
		t.Fatal(err)
	}
	w, ws := c.NewWorker(), cs.NewWorker()
	stopped := 0
	for n := 0; n < 3; n++ {
		x := testmodel.Sample(rng, m)
		for _, e := range []EarlyExit{{1, 2}, {3, 1}, {8, 2}} {
			if err := w.SetEarlyExit(e); err != nil {
				t.Fatal(err)
			}
			if err := ws.SetEarlyExit(e); err != nil {
				t.Fatal(err)
			}
			a, b := w.Infer(x, 0, 12, model.Hooks{}), ws.Infer(x, 0, 12, model.Hooks{})
			if a.Decision != b.Decision || a.Class != b.Class || a.Cycles != b.Cycles {
				t.Fatalf("sample %d, %+v: stopped after %d steps (class %d, %d cycles) with shifted sums, %d (%d, %d) without",
					n, e, b.Decision, b.Class, b.Cycles, a.Decision, a.Class, a.Cycles)
			}
			if a.Decision > 0 {
				stopped++
			}
		}
	}
	if stopped == 0 {
		t.Fatal("no rule stopped a sample early: the test checks nothing")
	}
}
