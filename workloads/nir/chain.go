package nir

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// nodeTypes lists the node types Import maps, in the order messages name
// them, each with the parameters Import reads from it: Decode reads no
// other dataset of a node.
var nodeTypes = []struct {
	typ    string
	params []string
}{
	{"Input", []string{"shape"}},
	{"Output", []string{"shape"}},
	{"Affine", []string{"weight", "bias"}},
	{"Linear", []string{"weight"}},
	{"Conv2d", []string{"weight", "bias", "stride", "padding", "dilation", "groups", "input_shape"}},
	{"IF", []string{"r", "v_threshold", "v_reset"}},
	{"LIF", []string{"tau", "r", "v_leak", "v_threshold", "v_reset"}},
	{"I", []string{"r"}},
	{"LI", []string{"tau", "r", "v_leak"}},
	{"Threshold", []string{"threshold"}},
	{"Flatten", []string{"start_dim", "end_dim", "input_type"}}, // input_type: kept for Export's round trip
	{"SumPool2d", []string{"kernel_size", "stride", "padding"}},
	{"AvgPool2d", []string{"kernel_size", "stride", "padding"}},
	{"Scale", []string{"scale"}},
}

// paramsOf returns the parameters Import reads from a node of type t, and
// whether it maps that type at all.
func paramsOf(t string) ([]string, bool) {
	for _, n := range nodeTypes {
		if n.typ == t {
			return n.params, true
		}
	}
	return nil, false
}

// supportedList names the node types Import maps, for messages.
func supportedList() string {
	names := make([]string, len(nodeTypes))
	for i, n := range nodeTypes {
		names[i] = n.typ
	}
	return strings.Join(names, ", ")
}

// unsupportedWhy says, per NIR type that Import refuses, what the type is
// and what nmsim would need to run it.
var unsupportedWhy = map[string]string{
	"CubaLIF": "a current-based LIF neuron has two states per neuron (a synaptic current with its own time constant tau_syn feeding a leaky membrane); " +
		"nmsim's neurons keep one, the membrane, so this needs a second leaky state per neuron in the neuron units",
	"CubaLI": "a current-based leaky integrator has two states per neuron (synaptic current and membrane); " +
		"nmsim's neurons keep one, so this needs a second leaky state per neuron",
	"Delay": "a delay holds signals back for some time; nmsim passes spikes on within the timestep, " +
		"so this needs delay lines (per-synapse spike buffers) on the chip",
	"Conv1d": "nmsim's convolutions have square 2-D kernels; a 1-D convolution needs k×1 kernels " +
		"(or reshaping the input to 1×L and a 1×k kernel, which the mapper does not do)",
	"NIRGraph": "a nested subgraph; flatten it into one graph of primitive nodes first",
}

// refusal collects every reason a graph cannot be imported, so that one
// attempt reports them all.
type refusal []string

func (r refusal) err() error {
	if len(r) == 0 {
		return nil
	}
	return fmt.Errorf("cannot import this graph:\n  - %s", strings.Join(r, "\n  - "))
}

// chain checks that g is a single feed-forward chain from one Input to one
// Output made of supported nodes, and returns its node names in order.
// Everything that is wrong is reported at once: unsupported node types,
// recurrent loops, branches and nodes that are not on the chain.
func chain(g *Graph) ([]string, error) {
	switch {
	case len(g.Nodes) == 0:
		return nil, errors.New("the graph has no nodes (an empty NIR graph): nothing to import")
	case len(g.Edges) == 0:
		return nil, fmt.Errorf("the graph has no edges: its %d nodes (%s) are not connected; nmsim needs a chain from an Input to an Output", len(g.Nodes), strings.Join(g.Sorted(), ", "))
	}
	var why refusal
	var inputs, outputs []string
	for _, name := range g.Sorted() {
		t := g.Nodes[name].Type
		switch {
		case t == "Input":
			inputs = append(inputs, name)
		case t == "Output":
			outputs = append(outputs, name)
		case isSupported(t):
		case unsupportedWhy[t] != "":
			why = append(why, fmt.Sprintf("node %q (%s): not supported: %s", name, t, unsupportedWhy[t]))
		default:
			why = append(why, fmt.Sprintf("node %q (%s): unknown node type (nmsim maps %s)", name, t, supportedList()))
		}
	}
	if len(inputs) != 1 || len(outputs) != 1 {
		why = append(why, fmt.Sprintf("the graph has %d Input nodes %q and %d Output nodes %q; nmsim runs networks with exactly one of each", len(inputs), inputs, len(outputs), outputs))
	}
	succ := map[string][]string{}
	pred := map[string][]string{}
	for _, e := range g.Edges {
		succ[e.From] = append(succ[e.From], e.To)
		pred[e.To] = append(pred[e.To], e.From)
	}
	for _, loop := range cycles(g, succ) {
		why = append(why, fmt.Sprintf("recurrent loop %s: nmsim runs feed-forward networks, where every layer reads only the layer before it; "+
			"a recurrent connection needs the layer's own spikes from the previous timestep routed back into it", loop))
	}
	for _, name := range g.Sorted() {
		t := g.Nodes[name].Type
		if n := len(pred[name]); n > 1 {
			why = append(why, fmt.Sprintf("node %q (%s) has %d inputs (%s); nmsim layers read exactly one layer (no merges or skip connections)", name, t, n, strings.Join(pred[name], ", ")))
		}
		if n := len(succ[name]); n > 1 {
			why = append(why, fmt.Sprintf("node %q (%s) feeds %d nodes (%s); nmsim layers feed exactly one layer (no branches)", name, t, n, strings.Join(succ[name], ", ")))
		}
	}
	if len(why) > 0 {
		return nil, why.err()
	}
	order := []string{inputs[0]}
	seen := map[string]bool{inputs[0]: true}
	for cur := inputs[0]; len(succ[cur]) == 1; {
		cur = succ[cur][0]
		order = append(order, cur)
		seen[cur] = true
	}
	if last := order[len(order)-1]; last != outputs[0] {
		why = append(why, fmt.Sprintf("the chain from %q ends at %q (%s), not at the Output %q", inputs[0], last, g.Nodes[last].Type, outputs[0]))
	}
	for _, name := range g.Sorted() {
		if !seen[name] {
			why = append(why, fmt.Sprintf("node %q (%s) is not on the chain from %q to %q", name, g.Nodes[name].Type, inputs[0], outputs[0]))
		}
	}
	if len(why) > 0 {
		return nil, why.err()
	}
	return order, nil
}

func isSupported(t string) bool {
	_, ok := paramsOf(t)
	return ok
}

// cycles returns each cycle of the graph once, as "a (T) -> b (T) -> a",
// found by depth-first search in name order.
func cycles(g *Graph, succ map[string][]string) []string {
	const (
		unseen = iota
		onStack
		done
	)
	state := map[string]int{}
	var stack []string
	var found []string
	var visit func(n string)
	visit = func(n string) {
		state[n] = onStack
		stack = append(stack, n)
		for _, m := range succ[n] {
			switch state[m] {
			case unseen:
				visit(m)
			case onStack:
				i := slices.Index(stack, m)
				var parts []string
				for _, x := range stack[i:] {
					parts = append(parts, fmt.Sprintf("%s (%s)", x, g.Nodes[x].Type))
				}
				found = append(found, strings.Join(append(parts, m), " -> "))
			}
		}
		stack = stack[:len(stack)-1]
		state[n] = done
	}
	for _, n := range g.Sorted() {
		if state[n] == unseen {
			visit(n)
		}
	}
	return found
}

// errNoParam is wrapped by param errors so callers can tell a missing
// parameter from a malformed one.
var errNoParam = errors.New("missing")
