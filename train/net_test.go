package train

import (
	"strings"
	"testing"

	"github.com/nmsim/nmsim/workloads/model"
)

func TestParseNet(t *testing.T) {
	mnist := model.Shape{C: 1, H: 28, W: 28}
	type lay struct {
		kind   Kind
		out    model.Shape
		binary bool
	}
	tests := []struct {
		spec string
		want []lay
	}{
		{"784-512-512-10", []lay{{Dense, model.Shape{C: 512, H: 1, W: 1}, false}, {Dense, model.Shape{C: 512, H: 1, W: 1}, true}, {Dense, model.Shape{C: 10, H: 1, W: 1}, false}}},
		{"mlp", []lay{{Dense, model.Shape{C: 512, H: 1, W: 1}, false}, {Dense, model.Shape{C: 512, H: 1, W: 1}, true}, {Dense, model.Shape{C: 10, H: 1, W: 1}, false}}},
		{"10", []lay{{Dense, model.Shape{C: 10, H: 1, W: 1}, false}}},
		{"conv", []lay{
			{Conv, model.Shape{C: 32, H: 28, W: 28}, false}, {Pool, model.Shape{C: 32, H: 14, W: 14}, false},
			{Conv, model.Shape{C: 64, H: 14, W: 14}, true}, {Pool, model.Shape{C: 64, H: 7, W: 7}, false},
			{Dense, model.Shape{C: 10, H: 1, W: 1}, false}}},
		{"8c3s2p1-16c3-ap6-100-10", []lay{
			{Conv, model.Shape{C: 8, H: 14, W: 14}, false}, {Conv, model.Shape{C: 16, H: 12, W: 12}, true},
			{Pool, model.Shape{C: 16, H: 2, W: 2}, false}, {Dense, model.Shape{C: 100, H: 1, W: 1}, true},
			{Dense, model.Shape{C: 10, H: 1, W: 1}, false}}},
		{"8c3p1-ap2-gap-10", []lay{
			{Conv, model.Shape{C: 8, H: 28, W: 28}, false}, {Pool, model.Shape{C: 8, H: 14, W: 14}, false},
			{Pool, model.Shape{C: 8, H: 1, W: 1}, false}, {Dense, model.Shape{C: 10, H: 1, W: 1}, false}}},
		{" ap4-4c7s1-10 ", []lay{{Pool, model.Shape{C: 1, H: 7, W: 7}, false}, {Conv, model.Shape{C: 4, H: 1, W: 1}, false}, {Dense, model.Shape{C: 10, H: 1, W: 1}, false}}},
	}
	for _, tt := range tests {
		n, err := ParseNet(tt.spec, mnist)
		if err != nil {
			t.Errorf("ParseNet(%q): %v", tt.spec, err)
			continue
		}
		if len(n.Layers) != len(tt.want) {
			t.Errorf("ParseNet(%q): %d layers, want %d", tt.spec, len(n.Layers), len(tt.want))
			continue
		}
		in := mnist
		for i, w := range tt.want {
			l := n.Layers[i]
			if l.Kind != w.kind || l.Out != w.out || l.Binary != w.binary || l.In != in {
				t.Errorf("ParseNet(%q) layer %d = %v %v->%v binary %v, want %v %v->%v binary %v",
					tt.spec, i, l.Kind, l.In, l.Out, l.Binary, w.kind, in, w.out, w.binary)
			}
			in = l.Out
		}
		if n.Classes() != tt.want[len(tt.want)-1].out.C {
			t.Errorf("ParseNet(%q).Classes() = %d", tt.spec, n.Classes())
		}
	}
}

func TestParseNetErrors(t *testing.T) {
	mnist := model.Shape{C: 1, H: 28, W: 28}
	tests := []struct{ spec, want string }{
		{"", "empty net"},
		{"512--10", "empty layer"},
		{"16c5-ap2", "last layer must be fully connected"},
		{"16c5", "last layer must be fully connected"},
		{"x-10", `units "x"`},
		{"0-10", `units "0"`},
		{"16k5-10", `units "16k5"`},
		{"16c5q-10", "not a convolution"},
		{"16c0-10", `kernel "0"`},
		{"0c3-10", `channels "0"`},
		{"16c3s0-10", `stride "0"`},
		{"16c3p3-10", "padding 3 must be smaller than the kernel 3"},
		{"16c29-10", "kernel 29 is larger than the 28x28 input"},
		{"ap3-10", "pool size 3 does not divide the 28x28 input"},
		{"ap0-10", `pool size "0"`},
		{"100-16c3-10", "convolution after a fully connected layer"},
		{"16c5-+10", `units "+10"`},
		{"8c3s2p1-gap-gap-10", "global average pooling needs a square input of side >= 2, not 1x1"},
		{"100-gap-10", "global average pooling needs a square input"},
	}
	for _, tt := range tests {
		_, err := ParseNet(tt.spec, mnist)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseNet(%q) error = %v, want one containing %q", tt.spec, err, tt.want)
		}
	}
}
