package arch

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"
)

// Limits that the brief's ranges leave open ("≥ 1") are capped so that a
// typo such as an extra zero is caught and the products the simulator forms
// from them (cycles × events) cannot overflow.
const (
	maxLatencyCycles = 1000
	maxBufferKB      = 65536
)

// The technology nodes the energy model's scaling tables cover
// (Stillmaker & Baas 2017; docs/energy-model.md).
const (
	MinNodeNM = 7
	MaxNodeNM = 130
)

// checker accumulates every problem instead of stopping at the first.
type checker struct {
	errs Errors
}

func (k *checker) fail(key string, value any, format string, args ...any) {
	k.errs = append(k.errs, &FieldError{Key: key, Value: formatValue(value), Msg: fmt.Sprintf(format, args...)})
}

// intIn checks lo ≤ v ≤ hi; bound names the key that set hi, if any, so the
// message explains a limit that is not a constant.
func (k *checker) intIn(key string, v, lo, hi int, unit, bound string) bool {
	if v >= lo && v <= hi {
		return true
	}
	msg := fmt.Sprintf("must be in %d..%d %s", lo, hi, unit)
	if bound != "" {
		msg += " (" + bound + ")"
	}
	k.fail(key, v, "%s", msg)
	return false
}

// floatIn checks lo ≤ v ≤ hi and rejects NaN and infinities.
func (k *checker) floatIn(key string, v, lo, hi float64, unit string) bool {
	if v >= lo && v <= hi {
		return true
	}
	k.fail(key, v, "must be in %s..%s %s", fmtFloat(lo), fmtFloat(hi), unit)
	return false
}

func (k *checker) oneOf(key, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	quoted := make([]string, len(allowed))
	for i, a := range allowed {
		quoted[i] = strconv.Quote(a)
	}
	k.fail(key, v, "must be one of %s", strings.Join(quoted, ", "))
}

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// bitsFor is the number of bits that name n distinct things (0 for n ≤ 1).
func bitsFor(n int) int {
	if n <= 1 {
		return 0
	}
	return bits.Len(uint(n - 1))
}

// Validate checks every range, enumeration and cross-field rule and returns
// all problems at once as Errors, or nil. Cross-field rules are checked only
// when the keys they combine are themselves in range, so one bad value does
// not cascade into confusing follow-on errors.
func (c *Config) Validate() error {
	var k checker
	ch, cb, noc := c.Chip, c.Crossbar, c.NoC

	k.floatIn("tech.node_nm", c.Tech.NodeNM, MinNodeNM, MaxNodeNM, "nm (the range the scaling equations cover)")
	if c.Tech.Vdd != 0 {
		k.floatIn("tech.vdd", c.Tech.Vdd, 0.4, 2, "V (0 takes the node's nominal supply)")
	}
	k.oneOf("tech.process", c.Tech.Process, "lstp", "lop", "hp")

	wOK := k.intIn("chip.mesh_width", ch.MeshWidth, 1, 64, "tiles", "")
	hOK := k.intIn("chip.mesh_height", ch.MeshHeight, 1, 64, "tiles", "")
	k.oneOf("chip.topology", ch.Topology, "mesh", "torus")
	// Below 1 MHz no chip is built, and times and leakage would grow
	// without bound (1e-300 MHz once gave 6.5e287 GJ).
	k.floatIn("chip.clock_mhz", ch.ClockMHz, 1, 10000, "MHz")

	tl := c.Tile
	xbOK := k.intIn("tile.crossbars", tl.Crossbars, 1, 1024, "crossbars", "")
	k.intIn("tile.shift_add_units", tl.ShiftAddUnits, 1, 65536, "units", "")
	k.floatIn("tile.input_buffer_kb", tl.InputBufferKB, 0, maxBufferKB, "KiB (0 sizes it from the mapping)")
	k.floatIn("tile.output_buffer_kb", tl.OutputBufferKB, 0, maxBufferKB, "KiB (0 sizes it from the mapping)")
	k.oneOf("tile.input_buffer_cell", tl.InputBufferCell, "sram", "edram")
	k.intIn("tile.bus_bits", tl.BusBits, 0, 65536, "wires", "")
	k.intIn("tile.tiles_per_router", tl.TilesPerRouter, 1, 16, "tiles", "")

	rowsOK := k.intIn("crossbar.rows", cb.Rows, 8, 4096, "rows", "")
	colsOK := k.intIn("crossbar.cols", cb.Cols, 8, 4096, "columns", "")
	if colsOK && cb.Cols%2 != 0 {
		colsOK = false
		k.fail("crossbar.cols", cb.Cols, `must be even: cell = "pair" stores each weight on two columns`)
	}
	k.oneOf("crossbar.cell", cb.Cell, "pair")
	if rowsOK {
		k.intIn("crossbar.rows_per_read", cb.RowsPerRead, 1, cb.Rows, "rows", "crossbar.rows")
	} else {
		k.intIn("crossbar.rows_per_read", cb.RowsPerRead, 1, 4096, "rows", "")
	}
	k.intIn("crossbar.adc_bits", cb.ADCBits, 1, 16, "bits", "")
	if colsOK {
		if k.intIn("crossbar.cols_per_adc", cb.ColsPerADC, 1, cb.Cols, "columns", "crossbar.cols") && cb.Cols%cb.ColsPerADC != 0 {
			k.fail("crossbar.cols_per_adc", cb.ColsPerADC,
				"must divide crossbar.cols = %d so that every ADC serves the same number of columns", cb.Cols)
		}
	} else {
		k.intIn("crossbar.cols_per_adc", cb.ColsPerADC, 1, 4096, "columns", "")
	}
	k.intIn("crossbar.read_latency_cycles", cb.ReadLatencyCycles, 1, maxLatencyCycles, "cycles", "")
	k.intIn("crossbar.adc_latency_cycles", cb.ADCLatencyCycles, 1, maxLatencyCycles, "cycles", "")

	dv := c.Device
	if !(dv.OnOffRatio > 1 && dv.OnOffRatio <= 1e6) {
		k.fail("device.on_off_ratio", dv.OnOffRatio, "must be in (1, 1e6]: G_on / G_off, and an on-cell must conduct more than an off-cell")
	}
	k.intIn("device.levels", dv.Levels, 2, 256, "levels", "")
	k.floatIn("device.variation_sigma", dv.VariationSigma, 0, 3, "(σ of ln G)")
	k.floatIn("device.read_noise_sigma", dv.ReadNoiseSigma, 0, 1, "(relative σ per read)")
	offOK := k.floatIn("device.stuck_at_off_rate", dv.StuckAtOffRate, 0, 1, "(fraction of cells)")
	if k.floatIn("device.stuck_at_on_rate", dv.StuckAtOnRate, 0, 1, "(fraction of cells)") && offOK &&
		dv.StuckAtOffRate+dv.StuckAtOnRate > 1 {
		k.fail("device.stuck_at_on_rate", dv.StuckAtOnRate,
			"must be at most 1 − device.stuck_at_off_rate = %s: no cell is stuck both ways",
			strconv.FormatFloat(1-dv.StuckAtOffRate, 'g', 6, 64))
	}
	k.floatIn("device.ir_drop", dv.IRDrop, 0, 1, "(wire resistance per cell / on-resistance)")
	if !(dv.ReadVoltage > 0 && dv.ReadVoltage <= 5) {
		k.fail("device.read_voltage", dv.ReadVoltage, "must be in (0, 5] V")
	}
	if !(dv.ROnKOhm > 0 && dv.ROnKOhm <= 1e6) {
		k.fail("device.r_on_kohm", dv.ROnKOhm, "must be in (0, 1e6] kΩ")
	}
	k.floatIn("device.cell_area_f2", dv.CellAreaF2, 1, 10000, "F²")
	if !(dv.ReadPulseNS > 0 && dv.ReadPulseNS <= 1e6) {
		k.fail("device.read_pulse_ns", dv.ReadPulseNS, "must be in (0, 1e6] ns")
	}

	k.intIn("neuron.units_per_tile", c.Neuron.UnitsPerTile, 1, 65536, "updates per cycle", "")
	k.intIn("neuron.update_cycles", c.Neuron.UpdateCycles, 1, maxLatencyCycles, "cycles", "")
	k.oneOf("neuron.update", c.Neuron.Update, "event", "all")
	k.intIn("neuron.membrane_bits", c.Neuron.MembraneBits, 2, 64, "bits", "")
	k.floatIn("neuron.membrane_kb", c.Neuron.MembraneKB, 0, maxBufferKB, "KiB (0 sizes it from the mapping)")

	k.oneOf("noc.model", noc.Model, "cycle", "zeroload")
	k.oneOf("noc.routing", noc.Routing, "xy", "yx")
	k.intIn("noc.pipeline_stages", noc.PipelineStages, 1, 8, "stages", "")
	k.intIn("noc.link_latency_cycles", noc.LinkLatencyCycles, 1, maxLatencyCycles, "cycles", "")
	// Eight VCs per port keep a router's input VCs in one 64-bit mask (5
	// ports × 8); published VC routers use 2 to 8.
	if k.intIn("noc.vcs", noc.VCs, 1, 8, "virtual channels", "") && ch.Topology == "torus" && noc.Model == "cycle" && noc.VCs < 2 {
		k.fail("noc.vcs", noc.VCs,
			"must be at least 2 on a torus (chip.topology): the dateline scheme that keeps a ring deadlock-free splits the VCs into two classes")
	}
	depthOK := k.intIn("noc.vc_depth", noc.VCDepth, 1, 64, "flits", "")
	flitOK := k.intIn("noc.flit_bits", noc.FlitBits, 16, 1024, "bits", "")
	if flitOK {
		if k.intIn("noc.header_bits", noc.HeaderBits, 1, noc.FlitBits-1, "bits", "below noc.flit_bits") && wOK && hOK {
			// Dimension-order routing needs the destination's x and y.
			if need := bitsFor(ch.MeshWidth) + bitsFor(ch.MeshHeight); noc.HeaderBits < need {
				k.fail("noc.header_bits", noc.HeaderBits,
					"must be at least %d bits to hold the destination x and y of a %d×%d mesh (chip.mesh_width, chip.mesh_height)",
					need, ch.MeshWidth, ch.MeshHeight)
			}
		}
		if k.intIn("noc.spike_bits", noc.SpikeBits, 1, noc.FlitBits, "bits", "noc.flit_bits") && xbOK && colsOK {
			// A spike names its source neuron within the source tile: one
			// neuron per column pair of every crossbar.
			neurons := c.Tile.Crossbars * cb.Cols / 2
			if need := bitsFor(neurons); noc.SpikeBits < need {
				k.fail("noc.spike_bits", noc.SpikeBits,
					"must be at least %d bits to name each of the %d neurons of a tile (tile.crossbars × crossbar.cols / 2)",
					need, neurons)
			}
		}
	} else {
		k.intIn("noc.header_bits", noc.HeaderBits, 1, 1023, "bits", "")
		k.intIn("noc.spike_bits", noc.SpikeBits, 1, 1024, "bits", "")
	}
	spikesOK := k.intIn("noc.max_spikes_per_packet", noc.MaxSpikesPerPacket, 1, 4096, "spikes", "")
	k.oneOf("noc.multicast", noc.Multicast, "source", "tree")
	k.oneOf("noc.allocation", noc.Allocation, "combined", "separate")
	if noc.Allocation == "separate" && noc.PipelineStages < 3 {
		k.fail("noc.allocation", noc.Allocation,
			"needs noc.pipeline_stages ≥ 3 (separate VC allocation, switch allocation and switch traversal cycles), not %d", noc.PipelineStages)
	}
	k.intIn("noc.credit_delay_cycles", noc.CreditDelayCycles, 0, maxLatencyCycles, "cycles", "")
	k.intIn("noc.ni_queue_packets", noc.NIQueuePackets, 0, 1<<20, "packets", "")
	if noc.Multicast == "tree" && noc.Model == "cycle" && depthOK && flitOK && spikesOK &&
		noc.HeaderBits >= 1 && noc.SpikeBits >= 1 && noc.SpikeBits <= noc.FlitBits {
		// A router forks a multicast only into VCs with room for the
		// whole packet (docs/noc.md), so a full packet must fit a VC.
		packet := noc.HeaderBits + noc.MaxSpikesPerPacket*noc.SpikeBits
		if need := (packet + noc.FlitBits - 1) / noc.FlitBits; noc.VCDepth < need {
			k.fail("noc.vc_depth", noc.VCDepth,
				`must be at least %d flits with noc.multicast = "tree": a full packet (noc.header_bits + noc.max_spikes_per_packet × noc.spike_bits = %d bits) takes %d flits of noc.flit_bits = %d, and a multicast forks only into VCs with room for all of it`,
				need, packet, need, noc.FlitBits)
		}
	}

	return k.errs.orNil()
}

// Warnings lists legal but noteworthy choices, such as an ADC too narrow
// for the row parallelism: partial sums then clip, which is a real accuracy
// effect the simulator models, so it is not an error. Call it on a config
// that validates.
func (c *Config) Warnings() []string {
	var out []string
	cb := c.Crossbar
	// An ideal popcount over rows_per_read rows takes rows_per_read+1 values.
	if need := bitsFor(cb.RowsPerRead + 1); cb.ADCBits < need {
		out = append(out, fmt.Sprintf(
			"crossbar.adc_bits = %d is below the %d bits that resolve a popcount over crossbar.rows_per_read = %d rows; partial sums will clip",
			cb.ADCBits, need, cb.RowsPerRead))
	}
	// The energy model cuts a pulse longer than the read it belongs to.
	if readNS := c.ReadNS(); c.Device.ReadPulseNS > readNS {
		out = append(out, fmt.Sprintf(
			"device.read_pulse_ns = %g is longer than a read (crossbar.read_latency_cycles / chip.clock_mhz = %g ns); the read energy uses %g ns",
			c.Device.ReadPulseNS, readNS, readNS))
	}
	if c.Device.Levels > 2 {
		out = append(out, fmt.Sprintf(
			"device.levels = %d: weights are stored one bit per cell, so only the lowest and highest levels are used", c.Device.Levels))
	}
	return out
}

// ReadNS is the time one crossbar read takes: read_latency_cycles at the
// chip clock, in ns.
func (c *Config) ReadNS() float64 {
	return float64(c.Crossbar.ReadLatencyCycles) * 1e3 / c.Chip.ClockMHz
}
