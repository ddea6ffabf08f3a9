package nir

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/nmsim/nmsim/internal/bitvec"
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
			[]string{`node "n" (IF): threshold -5 of output 0: a neuron that subtracts its threshold needs a positive one`}},
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
		{"grouped weights", chainGraph(input(2, 6, 6), conv("c", 2, 1, 3, map[string]Array{"groups": Scalar(2)}), ifConv("n", 2, 4, 4, 1), output(2, 4, 4)),
			[]string{`node "c" (Conv2d): groups 2 is not supported`}},
		{"empty graph", &Graph{Nodes: map[string]*Node{}}, []string{"the graph has no nodes (an empty NIR graph)"}},
		{"no edges", &Graph{Nodes: map[string]*Node{"in": {Type: "Input"}, "out": {Type: "Output"}}}, []string{"the graph has no edges: its 2 nodes (in, out) are not connected"}},
		{"NaN weight", chainGraph(input(2), affine("a", 2, 2, 1, 2, math.NaN(), 4), ifNode("n", 2, 1), output(2)),
			[]string{`node "a" (Affine): weight[1 0] is NaN`}},
		{"infinite bias", func() *Graph {
			a := affine("a", 2, 2)
			a.params["bias"] = Floats([]int{2}, []float64{0, math.Inf(-1)})
			return chainGraph(input(2), a, ifNode("n", 2, 1), output(2))
		}(), []string{`node "a" (Affine): bias[1] is -Inf`}},
		{"NaN threshold", chainGraph(input(2), affine("a", 2, 2), ifNode("n", 2, math.NaN()), output(2)),
			[]string{`node "n" (IF): v_threshold[0] is NaN`}},
		{"readout output lost", chainGraph(input(2), affine("o", 2, 2, 1e3, -1e3, 1e-3, 2e-3), output(2)),
			[]string{`node "out" (Output): closing "o": outputs whose weights were all stored as 0: 1 of 2 (the first, output 1: weights up to 0.002`, "refused without --force"}},
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
	// Conv weights after both scales: 0.5·2·1 = 1 and −0.25·2·4 = −2,
	// integers; the neurons subtract their threshold 0.9, which is 9 steps
	// of 0.1, so the weights are stored in steps of 0.1: 10 and −20.
	if c.WeightBits != 8 || !reflect.DeepEqual(c.Weights, []int8{10, -20}) || !reflect.DeepEqual(c.Threshold, []int64{9, 9}) ||
		math.Abs(c.Scale[0]-0.1) > 1e-15 || c.Scale[0] != c.Scale[1] || rep.Layers[0].Method != "integers" {
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
		return chainGraph(input(2), affine("a", 2, 2, w...), ifNode("n", 2, 2), affine("o", 2, 2, 1, 2, 3, 4), output(2))
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

// TestTinyWeights imports an IF network whose weights (about 1e-11) and
// thresholds (6e-9) are far below 1: the steps follow the layer's own
// scale, so nothing rounds to zero, the report gives real errors, and the
// spikes follow the float simulation of the graph.
func TestTinyWeights(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 11))
	const in, hid, outs, T = 16, 12, 4, 300
	w1, w2 := make([]float64, hid*in), make([]float64, outs*hid)
	for i := range w1 {
		w1[i] = (rng.Float64() - 0.3) * 2e-11
	}
	for i := range w2 {
		w2[i] = (rng.Float64() - 0.3) * 2e-9
	}
	g := chainGraph(input(in), affine("a", hid, in, w1...), ifNode("n1", hid, 6e-9), affine("b", outs, hid, w2...), ifNode("n2", outs, 6e-9), output(outs))
	m, rep, err := Import(g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rep.Layers {
		if r.Method != "quantized to 8 bits" || !(r.WeightError > 0 && r.WeightError < 0.01) || r.ThresholdError != 0 || r.ZeroOutputs != 0 {
			t.Errorf("layer %d: %+v", i, r)
		}
	}
	var got, want int
	for range 5 {
		x := make([]uint8, in)
		xf := make([]float64, in)
		for i := range x {
			x[i] = uint8(rng.IntN(256))
			xf[i] = float64(x[i])
		}
		res := snn.NewRunner(m).Run(x, T, model.Hooks{})
		got += res.Spikes[0]
		for _, s := range nirIF([][]float64{w1, w2}, []float64{6e-9, 6e-9}, []int{in, hid}, xf, T, true)[0] {
			for _, b := range s {
				if b {
					want++
				}
			}
		}
	}
	// Measured: 16,740 against 16,736.
	t.Logf("hidden spikes: nmsim %d, NIR in float %d", got, want)
	if want == 0 || math.Abs(float64(got-want)) > 0.01*float64(want) {
		t.Errorf("hidden spikes: nmsim %d, NIR in float %d", got, want)
	}
}

// TestThresholdIntegers: integer weights into a Threshold node (no memory)
// stay the integers they are, and fire exactly when W·x > θ.
func TestThresholdIntegers(t *testing.T) {
	w := []float64{3, -1, 4, 1, -5, 9, 2, -6, 5, 3, -5, 8}
	g := chainGraph(input(4), affine("a", 3, 4, w...),
		nn("th", "Threshold", map[string]Array{"threshold": Floats([]int{3}, []float64{10, 0.5, 7})}), output(3))
	m, rep, err := Import(g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r := rep.Layers[0]; r.Method != "integers" || r.WeightError != 0 || !reflect.DeepEqual(m.Layers[0].Threshold, []int64{11, 1, 8}) {
		t.Fatalf("%+v, thresholds %v", r, m.Layers[0].Threshold)
	}
	for x0 := range uint8(4) {
		x := []uint8{x0, 2, 1, 3 - x0}
		res := snn.NewRunner(m).Run(x, 3, model.Hooks{})
		for o, th := range []float64{10, 0.5, 7} {
			var v float64
			for j := range 4 {
				v += w[o*4+j] * float64(x[j])
			}
			want := int64(0)
			if v > th {
				want = 3
			}
			if res.Counts[o] != want {
				t.Errorf("input %v output %d: W·x = %v, θ = %v: %d spikes in 3 steps, want %d", x, o, v, th, res.Counts[o], want)
			}
		}
	}
}

// nirIF simulates a chain of NIR Affine → IF layers in float64, as NIR
// defines them: v += W·x + b each timestep (r = 1), a spike when
// v > v_threshold, then reset to 0 or subtract v_threshold. x is fed at
// every timestep. It returns, per layer, the spikes of each timestep.
func nirIF(layers [][]float64, th []float64, fanIn []int, x []float64, T int, subtract bool) [][][]bool {
	out := make([][][]bool, len(layers))
	v := make([][]float64, len(layers))
	for i, w := range layers {
		v[i] = make([]float64, len(w)/fanIn[i])
	}
	for range T {
		in := x
		for i, w := range layers {
			s := make([]bool, len(v[i]))
			next := make([]float64, len(v[i]))
			for o := range v[i] {
				for j, a := range in {
					v[i][o] += w[o*fanIn[i]+j] * a
				}
				if v[i][o] > th[i] {
					s[o], next[o] = true, 1
					if subtract {
						v[i][o] -= th[i]
					} else {
						v[i][o] = 0
					}
				}
			}
			out[i] = append(out[i], s)
			in = next
		}
	}
	return out
}

// TestResetAndThreshold runs integer-weight IF networks with thresholds on
// the grid (400) and between its points (300.5) on the reference SNN and
// compares them with a float simulation of NIR's equations (nirIF).
// Resetting to zero, nmsim's v ≥ ⌊θ⌋ + 1 is NIR's v > θ: the spikes are
// the same, step for step, in every layer. Subtracting, the integer
// neuron subtracts exactly θ (the grid is refined to steps of ½ for
// 300.5), so it keeps NIR's rate; but it fires on v = θ, where NIR waits
// for the next input: a layer fed the same input fires the same spikes or
// some one step early, never more than one spike ahead of NIR (no integer
// neuron that fires on v ≥ θ' and subtracts θ' can match v > θ exactly:
// with w = θ, NIR fires from the second step on, every step).
func TestResetAndThreshold(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 2))
	const in, hid, outs, T = 16, 12, 8, 1000
	w1, w2 := make([]float64, hid*in), make([]float64, outs*hid)
	for i := range w1 {
		w1[i] = float64(rng.IntN(16) - 6)
	}
	for i := range w2 {
		w2[i] = float64(rng.IntN(41) - 10)
	}
	for _, tc := range []struct {
		th1, th2       float64
		reset          model.Reset
		thInt1, thInt2 int64 // the stored thresholds
		scale1         float64
	}{
		{400, 60, model.ResetZero, 401, 61, 1},
		{300.5, 60.5, model.ResetZero, 301, 61, 1},
		{400, 60, model.ResetSubtract, 400, 60, 1},
		{300.5, 60.5, model.ResetSubtract, 601, 121, 0.5},
	} {
		name := fmt.Sprintf("%v/%v %s", tc.th1, tc.th2, tc.reset)
		g := chainGraph(input(in), affine("a", hid, in, w1...), ifNode("n1", hid, tc.th1), affine("b", outs, hid, w2...), ifNode("n2", outs, tc.th2), output(outs))
		m, rep, err := Import(g, Options{Reset: tc.reset})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		l1, l2 := m.Layers[0], m.Layers[1]
		if l1.Threshold[0] != tc.thInt1 || l2.Threshold[0] != tc.thInt2 || l1.Scale[0] != tc.scale1 || rep.Layers[0].Method != "integers" ||
			rep.Layers[0].WeightError != 0 || rep.Layers[0].ThresholdError != 0 || l1.Reset != tc.reset {
			t.Errorf("%s: layer 0 %s, thresholds %d/%d, step %v, errors %v/%v, reset %s; want %d/%d, step %v, exact",
				name, rep.Layers[0].Method, l1.Threshold[0], l2.Threshold[0], l1.Scale[0], rep.Layers[0].WeightError, rep.Layers[0].ThresholdError, l1.Reset, tc.thInt1, tc.thInt2, tc.scale1)
		}
		var chipSpikes, nirSpikes, early int
		for sample := range 5 {
			x := make([]uint8, in)
			xf := make([]float64, in)
			for i := range x {
				x[i] = uint8(rng.IntN(16))
				xf[i] = float64(x[i])
			}
			want := nirIF([][]float64{w1, w2}, []float64{tc.th1, tc.th2}, []int{in, hid}, xf, T, tc.reset == model.ResetSubtract)
			got := make([][][]bool, 2)
			snn.NewRunner(m).Run(x, T, model.Hooks{Spikes: func(layer, _ int, s bitvec.Vec) {
				b := make([]bool, m.Layers[layer].Out.Size())
				for i := range b {
					b[i] = s.Get(i)
				}
				got[layer] = append(got[layer], b)
			}})
			for layer := range 2 {
				for o := range want[layer][0] {
					var cg, cw int
					for step := range T {
						g, w := got[layer][step][o], want[layer][step][o]
						if g {
							cg++
						}
						if w {
							cw++
						}
						if tc.reset == model.ResetZero && g != w {
							t.Fatalf("%s: sample %d layer %d neuron %d step %d: nmsim %v, NIR %v", name, sample, layer, o, step, g, w)
						}
						if layer == 0 && (cg-cw < 0 || cg-cw > 1) {
							t.Fatalf("%s: sample %d neuron %d after step %d: nmsim %d spikes, NIR %d", name, sample, o, step, cg, cw)
						}
						if layer == 0 && g && !w {
							early++
						}
					}
					if layer == 1 {
						chipSpikes += cg
						nirSpikes += cw
					}
				}
			}
		}
		// Measured: 34,657 against 34,646 output spikes for 400/60 (1,230
		// hidden spikes a step early), equal for 300.5/60.5.
		t.Logf("%s: output spikes nmsim %d, NIR %d; hidden spikes fired a step early %d", name, chipSpikes, nirSpikes, early)
		if d := math.Abs(float64(chipSpikes - nirSpikes)); d > 0.001*float64(nirSpikes) {
			t.Errorf("%s: output spikes nmsim %d, NIR %d: more than 0.1 %% apart", name, chipSpikes, nirSpikes)
		}
	}
}

// TestFlattenFromTorch: NIR graphs exported from PyTorch write
// nn.Flatten's start_dim=1, which counts the batch axis; over an unbatched
// [C, H, W] it leaves [C, H·W], and the Affine after it reads all of it.
func TestFlattenFromTorch(t *testing.T) {
	g := chainGraph(input(1, 4, 4), conv("c", 2, 1, 3, nil), ifConv("n", 2, 2, 2, 1),
		nn("f", "Flatten", map[string]Array{"start_dim": Scalar(1), "end_dim": Scalar(-1)}), affine("a", 3, 8), ifNode("m", 3, 1), output(3))
	m, _, err := Import(g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if l := m.Layers[1]; l.Op != model.OpDense || l.In != (model.Shape{C: 2, H: 2, W: 2}) {
		t.Errorf("dense layer %+v", l)
	}
}

// TestForce: a layer refused as lost in quantisation imports with Force,
// and the report says what was lost.
func TestForce(t *testing.T) {
	g := chainGraph(input(2), affine("o", 2, 2, 1e3, -1e3, 1e-3, 2e-3), output(2))
	m, rep, err := Import(g, Options{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Layers[0].ZeroOutputs != 1 || !reflect.DeepEqual(m.Layers[0].Weights, []int8{127, -127, 0, 0}) {
		t.Errorf("%+v, weights %v", rep.Layers[0], m.Layers[0].Weights)
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
