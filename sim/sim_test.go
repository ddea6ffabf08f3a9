package sim

import (
	"slices"
	"testing"
)

type recorder struct{ got []string }

// label is a handler that records its name.
type label struct {
	r    *recorder
	name string
}

func (l label) Handle(Event) { l.r.got = append(l.r.got, l.name) }

func TestEngineOrdersByCycleThenSequence(t *testing.T) {
	var e Engine
	r := &recorder{}
	e.Schedule(5, label{r, "c"})
	e.Schedule(1, label{r, "a"})
	e.Schedule(5, label{r, "d"})
	e.Schedule(3, label{r, "b"})
	if end := e.Run(); end != 5 {
		t.Fatalf("Run ended at %d, want 5", end)
	}
	want := "abcd"
	got := ""
	for _, s := range r.got {
		got += s
	}
	if got != want {
		t.Fatalf("order %q, want %q", got, want)
	}
}

type chain struct {
	e    *Engine
	left int
}

func (c *chain) Handle(ev Event) {
	if c.left > 0 {
		c.left--
		c.e.Schedule(ev.At+2, c)
	}
}

func TestEngineHandlersScheduleFollowUps(t *testing.T) {
	var e Engine
	c := &chain{e: &e, left: 10}
	e.Schedule(0, c)
	var seen int
	e.Hooks = append(e.Hooks, func(Event) { seen++ })
	if end := e.Run(); end != 20 {
		t.Fatalf("end %d, want 20", end)
	}
	if seen != 11 {
		t.Fatalf("hook saw %d events, want 11", seen)
	}
}

func TestSchedulingIntoThePastPanics(t *testing.T) {
	var e Engine
	e.Reset(10)
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	e.Schedule(9, label{&recorder{}, "x"})
}

// TestEngineOrdersManyEvents checks the heap against a sort of random
// events, ties broken by scheduling order.
func TestEngineOrdersManyEvents(t *testing.T) {
	var e Engine
	type rec struct{ at, n int }
	var got []rec
	x := uint64(12345)
	for n := 0; n < 2000; n++ {
		x = x*6364136223846793005 + 1442695040888963407
		e.Schedule(Cycle(x>>58), handlerFunc(func(ev Event) { got = append(got, rec{int(ev.At), n}) }))
	}
	e.Run()
	for i := 1; i < len(got); i++ {
		a, b := got[i-1], got[i]
		if a.at > b.at || (a.at == b.at && a.n > b.n) {
			t.Fatalf("event %v ran before %v", a, b)
		}
	}
	if len(got) != 2000 {
		t.Fatalf("%d events ran", len(got))
	}
}

type handlerFunc func(Event)

func (f handlerFunc) Handle(e Event) { f(e) }

// TestAdvance: a handler may go on to a later cycle itself only while
// nothing is queued at or before it, and never with hooks; Run returns the
// cycle it advanced to.
func TestAdvance(t *testing.T) {
	var e Engine
	var steps []Cycle
	e.Schedule(1, handlerFunc(func(ev Event) {
		for c := ev.At + 1; e.Advance(c); c++ {
			steps = append(steps, c)
		}
	}))
	e.Schedule(4, handlerFunc(func(Event) {}))
	if end := e.Run(); end != 4 || !slices.Equal(steps, []Cycle{2, 3}) {
		t.Fatalf("advanced through %v, ended at %d: want 2, 3 (an event is queued at 4) and 4", steps, end)
	}
	e.Reset(0)
	e.Schedule(1, handlerFunc(func(ev Event) {
		if e.Advance(ev.At + 5) {
			steps = append(steps, ev.At+5)
		}
	}))
	if end := e.Run(); end != 6 {
		t.Fatalf("Run returned %d after a handler advanced to 6", end)
	}
	e.Reset(0)
	e.Hooks = []func(Event){func(Event) {}}
	e.Schedule(1, handlerFunc(func(Event) {
		if e.Advance(2) {
			t.Error("advanced with a hook installed: the hook would miss cycle 2")
		}
	}))
	e.Run()
}
