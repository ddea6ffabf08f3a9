package energy

import (
	"math"

	"github.com/nmsim/nmsim/arch"
)

// Technology scaling after A. Stillmaker and B. Baas, "Scaling equations
// for the accurate prediction of CMOS device performance from 180 nm to
// 7 nm", Integration 58:74–81, 2017, the scaling Accelergy's component
// library uses. Area scales by their area factors; energy by their fitted
// energy polynomial E(V) = a·V² + b·V + c of each node (the HP fits from
// 45 nm down), evaluated at the node's nominal supply. Between tabulated
// nodes both are interpolated linearly in log(node). A supply other than
// the nominal one scales dynamic energy by (vdd / nominal)² and leakage
// power by vdd / nominal (a leakage current held constant, first order).
type techNode struct {
	nm      float64
	area    float64    // area relative to 45 nm (Stillmaker & Baas, area table, the 45 nm row)
	poly    [3]float64 // energy polynomial coefficients a, b, c
	nominal float64    // nominal supply, V
}

// The nominal supplies are nmsim's choice of operating point per node (the
// customary 1.3 V at 130 nm down to 0.7 V at 7 nm, inside each fit's range);
// tech.vdd overrides them.
var techNodes = []techNode{
	{130, 6.4, [3]float64{7.171, -6.709, 2.904}, 1.3},
	{90, 2.8, [3]float64{4.762, -4.781, 2.092}, 1.2},
	{65, 1.5, [3]float64{3.755, -4.398, 1.975}, 1.1},
	{45, 1, [3]float64{1.018, -0.3107, 0.1539}, 1.0},
	{32, 0.46, [3]float64{0.8367, -0.4341, 0.1701}, 0.9},
	{20, 0.21, [3]float64{0.373, -0.1582, 0.04104}, 0.9},
	{16, 0.19, [3]float64{0.2958, -0.1241, 0.03024}, 0.85},
	{14, 0.17, [3]float64{0.2363, -0.09675, 0.02239}, 0.8},
	{10, 0.1, [3]float64{0.2068, -0.09311, 0.02375}, 0.75},
	{7, 0.059, [3]float64{0.1776, -0.09097, 0.02447}, 0.7},
}

// Tech is a technology operating point: node and supply.
type Tech struct {
	NodeNM float64
	Vdd    float64 // V
}

// TechOf is the operating point a config asks for (the node's nominal
// supply when tech.vdd is 0).
func TechOf(cfg *arch.Config) Tech {
	t := Tech{NodeNM: cfg.Tech.NodeNM, Vdd: cfg.Tech.Vdd}
	if t.Vdd == 0 {
		t.Vdd = NominalVdd(t.NodeNM)
	}
	return t
}

// interp interpolates f over the tabulated nodes, linearly in log(node);
// nm must be within the table.
func interp(nm float64, f func(techNode) float64) float64 {
	for i := 1; i < len(techNodes); i++ {
		hi, lo := techNodes[i-1], techNodes[i]
		if nm >= lo.nm {
			w := math.Log(hi.nm/nm) / math.Log(hi.nm/lo.nm)
			return math.Exp((1-w)*math.Log(f(hi)) + w*math.Log(f(lo)))
		}
	}
	return f(techNodes[len(techNodes)-1])
}

// NominalVdd is the nominal supply at a node.
func NominalVdd(nm float64) float64 {
	return interp(nm, func(n techNode) float64 { return n.nominal })
}

// energyAtNominal is the Stillmaker–Baas energy factor of a node at its
// nominal supply.
func energyAtNominal(nm float64) float64 {
	return interp(nm, func(n techNode) float64 {
		v := n.nominal
		return n.poly[0]*v*v + n.poly[1]*v + n.poly[2]
	})
}

// AreaScale is the factor that takes an area at node from to node to.
func AreaScale(from, to float64) float64 {
	a := func(n techNode) float64 { return n.area }
	return interp(to, a) / interp(from, a)
}

// EnergyScale is the factor that takes a dynamic energy at src to t.
func EnergyScale(src, t Tech) float64 {
	v := (t.Vdd / NominalVdd(t.NodeNM)) / (src.Vdd / NominalVdd(src.NodeNM))
	return energyAtNominal(t.NodeNM) / energyAtNominal(src.NodeNM) * v * v
}

// LeakageScale is the factor that takes a leakage power at src to t: the
// node factor of the energy (as Accelergy's library scales leakage) and
// the supply linearly.
func LeakageScale(src, t Tech) float64 {
	v := (t.Vdd / NominalVdd(t.NodeNM)) / (src.Vdd / NominalVdd(src.NodeNM))
	return energyAtNominal(t.NodeNM) / energyAtNominal(src.NodeNM) * v
}
