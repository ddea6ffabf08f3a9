package chip

import (
	"github.com/nmsim/nmsim/noc"
	"github.com/nmsim/nmsim/sim"
)

// Observer sees a worker's timing pass (Worker.Observe), as akita's hooks
// let a tracer see a component's events without the component knowing
// why. Cycles count from the start of the sample. A tile is busy while
// its crossbars read or its neuron units update, idle otherwise. A worker
// without an observer (the default) pays one nil check per event. An
// observer must not call back into the worker.
type Observer interface {
	// Read: tile's crossbars read layer's blocks (layer indexes the
	// placement's layers) for timestep t from start to end.
	Read(layer, t, tile int, start, end sim.Cycle)
	// Update: tile's neuron units updated neurons of layer for timestep t
	// from start to end.
	Update(layer, t, tile int, start, end sim.Cycle, neurons int)
	// Barrier: time slot k (in which layer l works on timestep k − l)
	// ran from start to end, the global barrier.
	Barrier(k int, start, end sim.Cycle)
}

// Observe makes o see the worker's timing pass and n the packets of its
// network from now on (nil: nobody). Only the cycle-level network has
// packets to see; n is ignored under noc.model = "zeroload".
func (w *Worker) Observe(o Observer, n noc.Observer) {
	w.obs = o
	if net, ok := w.net.(*noc.Net); ok {
		net.Observe(n)
	}
}
