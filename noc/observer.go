package noc

import "github.com/nmsim/nmsim/sim"

// Observer sees packets pass through a Net (Net.Observe), as akita's hooks
// let a tracer or a measurement see a component's events without the
// component knowing why. Packets are numbered; a number is reused once its
// packet has been delivered everywhere or dropped. A Net without an
// observer (the default) pays one nil check per event. An observer must
// not call back into the Net.
type Observer interface {
	// Injected: Send or Multicast handed packet id to the NI of tile src
	// in cycle t.
	Injected(id int32, src int, t sim.Cycle)
	// Ejected: the tail of packet id reached tile dst in cycle t, latency
	// cycles after Send, over hops links; last says every destination of
	// the packet has it now.
	Ejected(id int32, dst int, t sim.Cycle, latency int64, hops int, last bool)
	// Dropped: packet id, never injected into its router, was discarded
	// at the end of a synthetic run.
	Dropped(id int32)
}

// A GrantObserver is an Observer that also sees VC allocation; the Net
// calls Granted only on an observer that has it, so that one that does
// not care pays nothing per hop.
type GrantObserver interface {
	Observer
	// Granted: the head of packet id won its output VCs at router r in
	// cycle t (once per router on its path; a tree once per fork).
	Granted(id int32, r int, t sim.Cycle)
}

// BufferObserver is an Observer that also sees router buffers fill and
// drain (a tracer's counters); Net.Observe finds out which an observer is,
// so the others cost nothing more.
type BufferObserver interface {
	Observer
	// Buffered: from cycle t router r's input buffers hold flits flits
	// (all ports and VCs; a flit counts from the cycle it is sent to the
	// router, its credit spent, to the cycle it leaves). Called whenever
	// the number changes.
	Buffered(r, flits int, t sim.Cycle)
}

// LinkObserver is an Observer that also sees every flit cross a link
// between two routers (a tracer's link tracks).
type LinkObserver interface {
	Observer
	// Crossed: a flit left router from for router to, on the link from
	// cycle start (after the switch) to cycle end (in to's buffer).
	Crossed(from, to int, start, end sim.Cycle)
}
