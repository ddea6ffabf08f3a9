package nir

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/nmsim/nmsim/workloads/model"
	"github.com/nmsim/nmsim/workloads/snn"
)

// chainGraph builds a graph whose nodes, given in order, form a chain.
func chainGraph(nodes ...namedNode) *Graph {
	g := &Graph{Version: "test", Nodes: map[string]*Node{}}
	for i, n := range nodes {
		g.Nodes[n.name] = &Node{Type: n.typ, Params: n.params}
		if i > 0 {
			g.Edges = append(g.Edges, Edge{From: nodes[i-1].name, To: n.name})
		}
	}
	return g
}

type namedNode struct {
	name, typ string
	params    map[string]Array
}

func nn(name, typ string, params map[string]Array) namedNode {
	if params == nil {
		params = map[string]Array{}
	}
	return namedNode{name, typ, params}
}

func input(dims ...int) namedNode {
	return nn("in", "Input", map[string]Array{"shape": Ints([]int{len(dims)}, dims...)})
}

func output(dims ...int) namedNode {
	return nn("out", "Output", map[string]Array{"shape": Ints([]int{len(dims)}, dims...)})
}

func affine(name string, out, in int, w ...float64) namedNode {
	if len(w) == 0 {
		w = make([]float64, out*in)
		for i := range w {
			w[i] = float64(i%7) - 3.2
		}
	}
	return nn(name, "Affine", map[string]Array{"weight": Floats([]int{out, in}, w), "bias": Floats([]int{out}, make([]float64, out))})
}

func ifNode(name string, n int, th float64) namedNode {
	v := make([]float64, n)
	r := make([]float64, n)
	for i := range v {
		v[i], r[i] = th, 1
	}
	return nn(name, "IF", map[string]Array{"v_threshold": Floats([]int{n}, v), "r": Floats([]int{n}, r)})
}

func conv(name string, out, in, k int, extra map[string]Array) namedNode {
	w := make([]float64, out*in*k*k)
	for i := range w {
		w[i] = math.Sin(float64(i))
	}
	p := map[string]Array{
		"weight": Floats([]int{out, in, k, k}, w), "bias": Floats([]int{out}, make([]float64, out)),
		"stride": Ints([]int{2}, 1, 1), "padding": Ints([]int{2}, 0, 0), "dilation": Ints([]int{2}, 1, 1), "groups": Scalar(1),
	}
	for key, v := range extra {
		p[key] = v
	}
	return nn(name, "Conv2d", p)
}

func ifConv(name string, c, h, w int, th float64) namedNode {
	n := ifNode(name, c*h*w, th)
	for k, a := range n.params {
		a.Shape = []int{c, h, w}
		n.params[k] = a
	}
	return n
}

// TestRefusals hand-builds graphs that nmsim cannot run and checks that
// each is refused with a message that names the node and says why.
func TestRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		g    *Graph
		want []string
	}{
		{"dilation", chainGraph(input(1, 6, 6), conv("c", 2, 1, 3, map[string]Array{"dilation": Ints([]int{2}, 2, 2)}), ifConv("n", 2, 4, 4, 1), output(2, 4, 4)),
			[]string{`node "c" (Conv2d): dilation 2`, "dilated kernels"}},
		{"groups", chainGraph(input(2, 6, 6), conv("c", 2, 2, 3, map[string]Array{"groups": Scalar(2)}), ifConv("n", 2, 4, 4, 1), output(2, 4, 4)),
			[]string{`node "c" (Conv2d): groups 2`}},
		{"non-square kernel", chainGraph(input(1, 6, 6), nn("c", "Conv2d", map[string]Array{"weight": Floats([]int{1, 1, 3, 1}, []float64{1, 2, 3})}), output(1)),
			[]string{"kernel 3×1: nmsim's convolutions have square kernels"}},
		{"uneven stride", chainGraph(input(1, 6, 6), conv("c", 2, 1, 3, map[string]Array{"stride": Ints([]int{2}, 1, 2)}), output(1)),
			[]string{`node "c" (Conv2d): stride [1 2]: nmsim needs the same value for height and width`}},
		{"conv1d", chainGraph(input(1, 6), nn("c", "Conv1d", nil), output(1)),
			[]string{`node "c" (Conv1d): not supported`, "square 2-D kernels"}},
		{"delay", chainGraph(input(2), affine("a", 2, 2), nn("d", "Delay", nil), ifNode("n", 2, 1), output(2)),
			[]string{`node "d" (Delay): not supported`, "delay lines"}},
		{"unknown", chainGraph(input(2), nn("x", "Spline", nil), output(2)),
			[]string{`node "x" (Spline): unknown node type (nmsim maps Input, Output, Affine`}},
		{"branch", func() *Graph {
			g := chainGraph(input(2), affine("a", 2, 2), ifNode("n", 2, 1), output(2))
			g.Nodes["b"] = &Node{Type: "Affine", Params: map[string]Array{}}
			g.Edges = append(g.Edges, Edge{"n", "b"})
			return g
		}(), []string{`node "n" (IF) feeds 2 nodes (out, b)`, "no branches"}},
		{"off the chain", func() *Graph {
			g := chainGraph(input(2), affine("a", 2, 2), ifNode("n", 2, 1), output(2))
			g.Nodes["b"] = &Node{Type: "Affine", Params: map[string]Array{}}
			return g
		}(), []string{`node "b" (Affine) is not on the chain from "in" to "out"`}},
		{"merge", func() *Graph {
			g := chainGraph(input(2), affine("a", 2, 2), ifNode("n", 2, 1), output(2))
			g.Edges = append(g.Edges, Edge{"in", "n"})
			return g
		}(), []string{`node "n" (IF) has 2 inputs (a, in)`}},
		{"two outputs", func() *Graph {
			g := chainGraph(input(2), affine("a", 2, 2), ifNode("n", 2, 1), output(2))
			g.Nodes["out2"] = &Node{Type: "Output"}
			return g
		}(), []string{`1 Input nodes ["in"] and 2 Output nodes ["out" "out2"]`}},
		{"self loop", func() *Graph {
			g := chainGraph(input(2), affine("a", 2, 2), ifNode("n", 2, 1), output(2))
			g.Edges = append(g.Edges, Edge{"a", "a"})
			return g
		}(), []string{"recurrent loop a (Affine) -> a"}},
		{"two weights in a row", chainGraph(input(2), affine("a", 2, 2), affine("b", 2, 2), ifNode("n", 2, 1), output(2)),
			[]string{`node "b" (Affine): follows the weights of "a" with no neurons between`}},
		{"neuron without weights", chainGraph(input(2), ifNode("n", 2, 1), output(2)),
			[]string{`node "n" (IF): has no weights before it`}},
		{"no flatten", chainGraph(input(1, 2, 2), affine("a", 3, 4), ifNode("n", 3, 1), output(3)),
			[]string{`node "a" (Affine): reads a [1 2 2] tensor`, "put a Flatten before it"}},
		{"v_reset", func() *Graph {
			n := ifNode("n", 2, 1)
			n.params["v_reset"] = Floats([]int{2}, []float64{0, 0.5})
			return chainGraph(input(2), affine("a", 2, 2), n, output(2))
		}(), []string{`node "n" (IF): v_reset is not 0`}},
		{"threshold per neuron", chainGraph(input(1, 4, 4), conv("c", 2, 1, 3, nil), nn("n", "IF", map[string]Array{
			"v_threshold": Floats([]int{2, 2, 2}, []float64{1, 1, 1, 1, 1, 1, 1, 2}), "r": Floats([]int{1}, []float64{1}),
		}), output(2, 2, 2)), []string{`node "n" (IF): the threshold differs within channel 1 (1 and 2)`, "per-neuron values"}},
		{"tau per neuron", chainGraph(input(2), affine("a", 2, 2), nn("n", "LIF", map[string]Array{
			"tau": Floats([]int{2}, []float64{1e-3, 2e-3}), "v_threshold": Floats([]int{1}, []float64{1}),
		}), output(2)), []string{"tau differs between neurons", "a leak per neuron"}},
		{"non-positive threshold", chainGraph(input(2), affine("a", 2, 2, 1, 0, 0, 1), ifNode("n", 2, -5), output(2)),
			[]string{`node "n" (IF): threshold -5 is below zero`}},
		{"overlapping pool", chainGraph(input(1, 4, 4), conv("c", 1, 1, 1, nil), ifConv("n", 1, 4, 4, 1),
			nn("p", "SumPool2d", map[string]Array{"kernel_size": Ints([]int{2}, 2, 2), "stride": Ints([]int{2}, 1, 1)}), output(1, 3, 3)),
			[]string{`node "p" (SumPool2d): kernel 2, stride 1, padding 0: nmsim pools non-overlapping windows`}},
		{"pool before neurons", chainGraph(input(1, 4, 4), conv("c", 1, 1, 1, nil),
			nn("p", "SumPool2d", map[string]Array{"kernel_size": Ints([]int{2}, 2, 2)}), ifConv("n", 1, 2, 2, 1), output(1, 2, 2)),
			[]string{`node "p" (SumPool2d): comes between the weights of "c" and their neurons`}},
		{"pool last", chainGraph(input(1, 4, 4), conv("c", 1, 1, 1, nil), ifConv("n", 1, 4, 4, 1),
			nn("p", "SumPool2d", map[string]Array{"kernel_size": Ints([]int{2}, 2, 2)}), output(1, 2, 2)),
			[]string{`the last layer "p" is a pool`}},
		{"integrator in the middle", chainGraph(input(2), affine("a", 2, 2), nn("i", "I", nil), affine("b", 2, 2), ifNode("n", 2, 1), output(2)),
			[]string{`layer "a" (from [a i]) does not spike but feeds layer "b"`}},
		{"wrong output shape", chainGraph(input(2), affine("a", 3, 2), ifNode("n", 3, 1), output(4)),
			[]string{`node "out" (Output): shape [4] holds 4 values, but its input [3] holds 3`}},
		{"scale after the last neurons", chainGraph(input(2), affine("a", 2, 2), ifNode("n", 2, 1), nn("s", "Scale", map[string]Array{"scale": Floats([]int{2}, []float64{1, 2})}), output(2)),
			[]string{"a Scale after the last neurons changes which output is largest"}},
		{"huge input", chainGraph(input(1<<20, 1<<20, 2), output(1)),
			[]string{`node "in" (Input): shape [1048576 1048576 2]: 2199023255552 elements, more than the 4194304 nmsim imports`}},
		{"no layers", chainGraph(input(2), output(2)), []string{"no weight layers"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Import(tc.g, Options{})
			if err == nil {
				t.Fatal("imported")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not say %q", err, w)
				}
			}
		})
	}
}

// TestFolding checks the arithmetic of the mapping on small graphs whose
// integer models are known exactly.
func TestFolding(t *testing.T) {
	// Scale before the weights, Scale between weights and neurons, an
	// AvgPool folded into the next layer, a Threshold node (no memory) and
	// an LI readout.
	g := chainGraph(
		input(1, 4, 4),
		nn("s0", "Scale", map[string]Array{"scale": Floats(nil, []float64{2})}),
		conv("c", 2, 1, 1, map[string]Array{"weight": Floats([]int{2, 1, 1, 1}, []float64{0.5, -0.25})}),
		nn("s1", "Scale", map[string]Array{"scale": Floats([]int{2, 4, 4}, expandCh([]float64{1, 4}, 16))}),
		ifConv("n", 2, 4, 4, 0.9),
		nn("p", "AvgPool2d", map[string]Array{"kernel_size": Ints([]int{2}, 2, 2), "stride": Ints([]int{2}, 2, 2), "padding": Ints([]int{2}, 0, 0)}),
		nn("f", "Flatten", map[string]Array{"start_dim": Scalar(0), "end_dim": Scalar(-1)}),
		affine("a", 3, 8, expand3(8)...),
		nn("th", "Threshold", map[string]Array{"threshold": Floats([]int{3}, []float64{0.1, 0.1, 0.1})}),
		affine("o", 2, 3, 1, -1, 2, 0, 1, 1),
		nn("li", "LI", map[string]Array{"tau": Floats(nil, []float64{1e-3}), "r": Floats(nil, []float64{2}), "v_leak": Floats(nil, []float64{0})}),
		output(2),
	)
	m, rep, err := Import(g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := m.Layers[0]
	// Conv weights after both scales: 0.5·2·1 = 1 and −0.25·2·4 = −2: one
	// integer per output, so ±α binary with α 1 and 2; thresholds 0.9 are
	// floor(0.9/1)+1 = 1 and floor(0.9/2)+1 = 1.
	if c.WeightBits != 1 || !reflect.DeepEqual(c.Weights, []int8{1, -1}) || !reflect.DeepEqual(c.Threshold, []int64{1, 1}) || !reflect.DeepEqual(c.Scale, []float64{1, 2}) {
		t.Errorf("conv %+v", c)
	}
	if p := m.Layers[1]; p.Op != model.OpSumPool || p.Kernel != 2 {
		t.Errorf("pool %+v", p)
	}
	// The dense layer reads the 1/4 of the average pool: weights 1/4 of the
	// graph's, quantised to 8 bits.
	a := m.Layers[2]
	if a.Leak != model.LeakOne || !a.Spiking || a.WeightBits != 8 || rep.Layers[2].WeightError > 0.005 {
		t.Errorf("dense %+v (%+v)", a, rep.Layers[2])
	}
	step := a.Scale[0]
	if math.Abs(step-3.8/4/127) > 1e-12 {
		t.Errorf("dense step %v, want %v", step, 3.8/4/127)
	}
	o := m.Layers[3]
	// LI: α = 1 − e^−0.1, gain α·r; one shared step for the readout layer.
	alpha := -math.Expm1(-0.1)
	if o.Spiking || m.Readout != "" || o.Leak != int(math.Round(alpha*4096)) || o.Scale[0] != o.Scale[1] || math.Abs(o.Scale[0]-2*alpha*2/127) > 1e-12 {
		t.Errorf("output %+v, readout %q", o, m.Readout)
	}
	if !reflect.DeepEqual(o.Weights, []int8{63, -63, 127, 0, 63, 63}) { // 63.5 less a rounding error
		t.Errorf("output weights %v", o.Weights)
	}
}

func expandCh(perChannel []float64, per int) []float64 {
	var v []float64
	for _, x := range perChannel {
		for range per {
			v = append(v, x)
		}
	}
	return v
}

func expand3(in int) []float64 {
	w := make([]float64, 3*in)
	for i := range w {
		w[i] = 3.8 * math.Cos(float64(i))
	}
	w[0] = 3.8
	return w
}

// TestQuantization covers the weight modes: binary detection, forced
// binarization, --weight-bits and the shared step of a readout layer.
func TestQuantization(t *testing.T) {
	g := func(w ...float64) *Graph {
		return chainGraph(input(2), affine("a", 2, 2, w...), ifNode("n", 2, 1), affine("o", 2, 2, 1, 2, 3, 4), output(2))
	}
	for _, tc := range []struct {
		name    string
		w       []float64
		o       Options
		bits    int
		weights []int8
		method  string
	}{
		{"binary", []float64{0.5, -0.5, -2, 2}, Options{}, 1, []int8{1, -1, -1, 1}, "binary ±α"},
		{"binarize", []float64{0.5, -0.1, -2, 1}, Options{Binarize: true}, 1, []int8{1, -1, -1, 1}, "binarized α·sign(W)"},
		{"weight bits 1", []float64{0.5, -0.1, -2, 1}, Options{WeightBits: 1}, 1, []int8{1, -1, -1, 1}, "binarized α·sign(W)"},
		{"4 bits", []float64{0.5, -0.1, -2, 1}, Options{WeightBits: 4}, 4, []int8{7, -1, -7, 4}, "quantized to 4 bits"},
		{"binary but 8 bits asked", []float64{0.5, -0.5, -2, 2}, Options{WeightBits: 8}, 8, []int8{127, -127, -127, 127}, "quantized to 8 bits"},
		{"integers", []float64{3, -1, 0, 2}, Options{}, 8, []int8{3, -1, 0, 2}, "integers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, rep, err := Import(g(tc.w...), tc.o)
			if err != nil {
				t.Fatal(err)
			}
			l := m.Layers[0]
			if l.WeightBits != tc.bits || !reflect.DeepEqual(l.Weights, tc.weights) || rep.Layers[0].Method != tc.method {
				t.Errorf("bits %d weights %v (%s), want %d %v (%s)", l.WeightBits, l.Weights, rep.Layers[0].Method, tc.bits, tc.weights, tc.method)
			}
		})
	}
	// The readout layer (no neurons before the Output) shares one step,
	// so the largest output stays the largest.
	m, _, err := Import(chainGraph(input(2), affine("o", 2, 2, 0.1, 0.2, 30, 40), output(2)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if o := m.Layers[0]; o.Spiking || o.Scale[0] != o.Scale[1] || !reflect.DeepEqual(o.Weights, []int8{0, 1, 95, 127}) {
		t.Errorf("readout %+v", o)
	}
}

// TestResetAndThreshold checks the rounding of NIR's strict v > θ to
// nmsim's v ≥ θ on integers, and the --reset option, by running them.
func TestResetAndThreshold(t *testing.T) {
	// Weight 1 (binary, α = 1), threshold exactly 2: NIR fires when v > 2,
	// so the integer threshold is 3 and an input of 1 fires every third
	// step (reset by subtraction) ...
	g := chainGraph(input(1), affine("a", 1, 1, 1), ifNode("n", 1, 2), output(1))
	run := func(o Options) []int64 {
		m, _, err := Import(g, o)
		if err != nil {
			t.Fatal(err)
		}
		if m.Layers[0].Threshold[0] != 3 {
			t.Errorf("threshold %d, want 3", m.Layers[0].Threshold[0])
		}
		var counts []int64
		snn.NewRunner(m).Run([]uint8{1}, 7, snn.Hooks{Step: func(_ int, c []int64) { counts = append(counts, c[0]) }})
		return counts
	}
	if got := run(Options{}); !reflect.DeepEqual(got, []int64{0, 0, 1, 1, 1, 2, 2}) {
		t.Errorf("subtract: spike counts %v", got)
	}
	// ... and with input 2 and reset to zero every second step.
	g = chainGraph(input(1), affine("a", 1, 1, 2), ifNode("n", 1, 2), output(1))
	m, _, err := Import(g, Options{Reset: model.ResetZero})
	if err != nil {
		t.Fatal(err)
	}
	if res := snn.NewRunner(m).Run([]uint8{1}, 6, snn.Hooks{}); res.Counts[0] != 3 || m.Layers[0].Reset != model.ResetZero {
		t.Errorf("reset zero: %d spikes in 6 steps, want 3", res.Counts[0])
	}
}

func TestOptions(t *testing.T) {
	g := chainGraph(input(2), affine("a", 2, 2), ifNode("n", 2, 1), output(2))
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{DT: -1}, "dt -1"},
		{Options{WeightBits: 9}, "weight bits 9"},
		{Options{Reset: "leak"}, `reset "leak"`},
		{Options{InputBits: 40}, "input bits 40"},
		{Options{Coding: "rate"}, `input coding "rate" unknown`},
	} {
		if _, _, err := Import(g, tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.o, err, tc.want)
		}
	}
	m, _, err := Import(g, Options{Name: "x", Timesteps: 7, Coding: model.CodingFrames, InputBits: 2, Source: "g.nir"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "x" || m.Timesteps != 7 || m.Input.Coding != model.CodingFrames || m.Input.Bits != 2 || m.Provenance["source"] != "g.nir" {
		t.Errorf("model %+v", m)
	}
}
