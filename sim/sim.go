// Package sim is nmsim's discrete-event kernel: time is counted in clock
// cycles, events are kept in a queue ordered by (cycle, sequence number) so
// that events of the same cycle run in the order they were scheduled, and a
// component does nothing (costs nothing) until an event wakes it.
package sim

// Cycle is simulated time in clock cycles.
type Cycle uint64

// Handler is woken by an event.
type Handler interface {
	Handle(e Event)
}

// Event is something that happens to a handler at a cycle. It carries no
// payload: a handler that needs to know more is a pre-built object holding
// it, so scheduling allocates nothing; observers (chip.Observer,
// noc.Observer) see what components do.
type Event struct {
	At      Cycle
	Handler Handler
	seq     uint64
}

// queue is a binary min-heap of events on (cycle, sequence). It is typed,
// not container/heap, so pushing and popping an event allocates nothing.
type queue []Event

func (q queue) less(i, j int) bool {
	if q[i].At != q[j].At {
		return q[i].At < q[j].At
	}
	return q[i].seq < q[j].seq
}

func (q *queue) push(e Event) {
	*q = append(*q, e)
	h := *q
	for i := len(h) - 1; i > 0; {
		parent := (i - 1) / 2
		if !h.less(i, parent) {
			break
		}
		h[i], h[parent] = h[parent], h[i]
		i = parent
	}
}

func (q *queue) pop() Event {
	h := *q
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h[last] = Event{} // drop references for the collector
	h = h[:last]
	for i := 0; ; {
		small, l, r := i, 2*i+1, 2*i+2
		if l < len(h) && h.less(l, small) {
			small = l
		}
		if r < len(h) && h.less(r, small) {
			small = r
		}
		if small == i {
			break
		}
		h[i], h[small] = h[small], h[i]
		i = small
	}
	*q = h
	return top
}

// Engine runs events in time order. It is not safe for concurrent use; a
// parallel run gives each worker its own engine.
type Engine struct {
	q   queue
	now Cycle
	seq uint64
	// Hooks observe every event after it is handled (tracing); they must
	// not schedule events.
	Hooks []func(e Event)
}

// Now is the cycle of the event being handled (or of the last one).
func (e *Engine) Now() Cycle { return e.now }

// Schedule queues an event; scheduling into the past is a programming error.
func (e *Engine) Schedule(at Cycle, h Handler) {
	if at < e.now {
		panic("sim: event scheduled in the past")
	}
	e.seq++
	e.q.push(Event{At: at, Handler: h, seq: e.seq})
}

// Advance lets the handler being run go on to cycle c itself, as if it had
// scheduled an event for c and that event came next: if nothing is queued
// at or before c, it sets the clock to c and reports true; otherwise it
// changes nothing and reports false (schedule the event). A component that
// is busy for many cycles in a row (the NoC in a burst) so costs one event,
// not one per cycle. With hooks it always reports false, so that they see
// every cycle.
func (e *Engine) Advance(c Cycle) bool {
	if c < e.now {
		panic("sim: advance into the past")
	}
	if len(e.Hooks) > 0 || len(e.q) > 0 && e.q[0].At <= c {
		return false
	}
	e.now = c
	return true
}

// Run handles events until the queue is empty and returns the cycle of the
// last one (or the last a handler advanced to): the global barrier at which
// everything has drained.
func (e *Engine) Run() Cycle {
	for len(e.q) > 0 {
		ev := e.q.pop()
		e.now = ev.At
		ev.Handler.Handle(ev)
		for _, h := range e.Hooks {
			h(ev)
		}
	}
	return e.now
}

// Reset empties the queue and sets the clock to start, keeping capacity.
func (e *Engine) Reset(start Cycle) {
	e.q = e.q[:0]
	e.now = start
}
