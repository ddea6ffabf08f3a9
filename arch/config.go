// Package arch is the schema of arch.toml: the typed description of one
// simulated chip (technology, mesh, tiles, crossbars, devices, neuron units
// and network-on-chip), its defaults, strict decoding and validation.
//
// A file only needs the keys it changes: Parse starts from Default(), the
// values of configs/rram-xnor.toml, and overlays the file on top. Every key
// the file names must exist in the schema and have the right TOML type;
// every problem is reported at once, with file and line, by an Errors value.
package arch

// Config is one design point. Its zero value is not useful: start from
// Default(), Parse or Load.
type Config struct {
	Tech     Tech     `toml:"tech"`
	Chip     Chip     `toml:"chip"`
	Tile     Tile     `toml:"tile"`
	Crossbar Crossbar `toml:"crossbar"`
	Device   Device   `toml:"device"`
	Neuron   Neuron   `toml:"neuron"`
	NoC      NoC      `toml:"noc"`
}

// Tech is the CMOS technology the chip is built in; the energy model
// scales every component from its source node to it (docs/energy-model.md).
type Tech struct {
	NodeNM float64 `toml:"node_nm"` // feature size, 7..130 nm
	// Supply voltage; 0 takes the node's nominal supply (the table in
	// docs/energy-model.md). Dynamic energy scales as vdd², leakage as vdd.
	Vdd float64 `toml:"vdd"`
	// Transistor flavour of the logic and SRAM, which sets their leakage
	// (CACTI 6.5's ITRS device tables): "lstp" low standby power, "lop" low
	// operating power, "hp" high performance.
	Process string `toml:"process"`
}

// Chip is the top level: a mesh or torus of identical tiles on one clock.
type Chip struct {
	MeshWidth  int     `toml:"mesh_width"`  // tiles in x, 1..64
	MeshHeight int     `toml:"mesh_height"` // tiles in y, 1..64
	Topology   string  `toml:"topology"`    // "mesh" | "torus"
	ClockMHz   float64 `toml:"clock_mhz"`   // 1..10000 MHz
}

// Tile is one mesh node: crossbars, neuron units and a network interface.
// Keys other than crossbars describe its composition for area and energy
// only; they do not change spikes or cycles.
type Tile struct {
	Crossbars     int `toml:"crossbars"`       // crossbar arrays per tile, 1..1024
	ShiftAddUnits int `toml:"shift_add_units"` // shift-and-add units per tile, 1..65536
	// Input and output spike buffers and the membrane store, in KiB; 0
	// sizes each from what the mapping needs on the busiest tile (or, with
	// no model, from the tile's crossbars).
	InputBufferKB  float64 `toml:"input_buffer_kb"`  // 0..65536 KiB
	OutputBufferKB float64 `toml:"output_buffer_kb"` // 0..65536 KiB
	// The input buffer's cells: "sram" or "edram" (ISAAC's 64 KB eDRAM),
	// which sets its area and leakage per bit.
	InputBufferCell string `toml:"input_buffer_cell"`
	// Wires of a bus from the input buffer to the arrays (ISAAC's
	// eDRAM-to-IMA bus), spanning the tile; 0 = none.
	BusBits        int  `toml:"bus_bits"`         // 0..65536
	TilesPerRouter int  `toml:"tiles_per_router"` // tiles sharing one router (concentration), 1..16
	PowerGating    bool `toml:"power_gating"`     // tiles the mapping leaves unused are switched off and leak nothing
}

// Crossbar is one R×C array with its row drivers, column mux and ADCs.
type Crossbar struct {
	Rows              int    `toml:"rows"`                // word lines, 8..4096
	Cols              int    `toml:"cols"`                // bit lines, 8..4096, even
	Cell              string `toml:"cell"`                // "pair": a ±1 weight is a complementary pair of 1T1R cells on two columns
	RowsPerRead       int    `toml:"rows_per_read"`       // rows driven at once, 1..rows
	ADCBits           int    `toml:"adc_bits"`            // 1..16
	ColsPerADC        int    `toml:"cols_per_adc"`        // columns multiplexed onto one ADC, 1..cols, divides cols
	ReadLatencyCycles int    `toml:"read_latency_cycles"` // cycles to drive rows and settle, ≥1
	ADCLatencyCycles  int    `toml:"adc_latency_cycles"`  // cycles per conversion, ≥1
	// Move a column whose stuck cells disagree with its weights to a
	// spare column (one the mapping leaves unused) where fewer disagree.
	RemapFaultyColumns bool `toml:"remap_faulty_columns"`
	// Set the ADC's levels from reference columns (the mean on- and
	// off-cell) instead of the nominal levels, removing the gain error of
	// lognormal variation.
	CalibrateADC bool `toml:"calibrate_adc"`
}

// Device is the memory cell of the crossbars: its conductance levels and
// its non-idealities, each drawn from the run's seed so that a Monte-Carlo
// run is reproducible. The preset is ideal; docs/device-model.md gives the
// equations.
type Device struct {
	OnOffRatio     float64 `toml:"on_off_ratio"`      // G_on / G_off, (1, 1e6]
	Levels         int     `toml:"levels"`            // conductance levels per cell, 2..256; weights use the lowest and highest
	VariationSigma float64 `toml:"variation_sigma"`   // device-to-device σ of ln G, drawn once per cell, 0..3
	ReadNoiseSigma float64 `toml:"read_noise_sigma"`  // read noise of a driven on-cell, relative σ per read (variance ∝ current), 0..1
	StuckAtOffRate float64 `toml:"stuck_at_off_rate"` // fraction of cells stuck at G_off, 0..1
	StuckAtOnRate  float64 `toml:"stuck_at_on_rate"`  // fraction of cells stuck at G_on, 0..1; the two sum to ≤ 1
	IRDrop         float64 `toml:"ir_drop"`           // wire resistance per cell pitch / R_on, 0..1; 0 = off
	// Electrical parameters for the array's read energy, V_read² · G ·
	// t_read per driven cell, and its area; they do not change spikes.
	ReadVoltage float64 `toml:"read_voltage"`  // V_read, (0, 5] V
	ROnKOhm     float64 `toml:"r_on_kohm"`     // on-state resistance 1/G_on, (0, 1e6] kΩ
	ReadPulseNS float64 `toml:"read_pulse_ns"` // read pulse width, (0, read latency] ns
	CellAreaF2  float64 `toml:"cell_area_f2"`  // cell area in F² (F = tech.node_nm), 1..10000
}

// Neuron is the digital neuron datapath of a tile.
type Neuron struct {
	UnitsPerTile int `toml:"units_per_tile"` // neuron updates a tile performs per cycle, ≥1
	UpdateCycles int `toml:"update_cycles"`  // latency of one batch of updates, ≥1
	MembraneBits int `toml:"membrane_bits"`  // stored membrane width, 2..64; area and energy only (the simulator keeps int64)
	// Membrane store in KiB; 0 sizes it from the mapping (membrane_bits
	// per neuron homed on the busiest tile) or, with no model, from the
	// tile's crossbars.
	MembraneKB float64 `toml:"membrane_kb"` // 0..65536 KiB
	// "event": a neuron is updated (and charged) only when it has work to
	// do: input, a bias or leak, or a membrane at or above threshold;
	// "all": every neuron every timestep (a synchronous unit). Spikes and
	// cycles are the same either way; only the updates charged differ.
	Update string `toml:"update"`
}

// NoC is the network-on-chip: routers, links and the AER packet format.
type NoC struct {
	Model              string `toml:"model"`                 // "cycle" (routers, VCs, credits) | "zeroload" (contention-free formula)
	Routing            string `toml:"routing"`               // "xy" | "yx"
	PipelineStages     int    `toml:"pipeline_stages"`       // router pipeline depth, 1..8
	LinkLatencyCycles  int    `toml:"link_latency_cycles"`   // ≥1
	VCs                int    `toml:"vcs"`                   // virtual channels per input port, 1..8; ≥2 on a torus
	VCDepth            int    `toml:"vc_depth"`              // flit buffers per virtual channel, 1..64
	FlitBits           int    `toml:"flit_bits"`             // 16..1024
	HeaderBits         int    `toml:"header_bits"`           // routing header bits in the first flit, < flit_bits
	SpikeBits          int    `toml:"spike_bits"`            // bits of one spike address, 1..flit_bits
	MaxSpikesPerPacket int    `toml:"max_spikes_per_packet"` // AER packet capacity, ≥1
	Multicast          string `toml:"multicast"`             // "source" (replicate at the source NI) | "tree"
	// Allocation is "combined" (a head may win its VC and the switch in
	// the same cycle) or "separate" (non-speculative: VC allocation in one
	// cycle, switch allocation from the next; docs/noc.md).
	Allocation        string `toml:"allocation"`
	CreditDelayCycles int    `toml:"credit_delay_cycles"` // extra cycles before a returned credit is usable upstream, ≥0
	NIQueuePackets    int    `toml:"ni_queue_packets"`    // packets an NI queue holds; 0: unbounded
}

// Default returns a fresh copy of the ReRAM-XNOR preset, the values of
// configs/rram-xnor.toml (a test keeps the two identical).
func Default() *Config {
	return &Config{
		Tech: Tech{NodeNM: 32, Process: "lstp"},
		Chip: Chip{
			MeshWidth:  4,
			MeshHeight: 4,
			Topology:   "mesh",
			ClockMHz:   200,
		},
		Tile: Tile{Crossbars: 8, ShiftAddUnits: 128, TilesPerRouter: 1, PowerGating: true, InputBufferCell: "sram"},
		Crossbar: Crossbar{
			Rows:              128,
			Cols:              128,
			Cell:              "pair",
			RowsPerRead:       32,
			ADCBits:           6,
			ColsPerADC:        8,
			ReadLatencyCycles: 3,
			ADCLatencyCycles:  1,
		},
		Device: Device{
			OnOffRatio:  10,
			Levels:      2,
			ReadVoltage: 0.5,
			ROnKOhm:     240,
			ReadPulseNS: 10,
			CellAreaF2:  48,
		},
		Neuron: Neuron{
			UnitsPerTile: 64,
			UpdateCycles: 1,
			Update:       "event",
			MembraneBits: 24,
		},
		NoC: NoC{
			Model:              "cycle",
			Routing:            "xy",
			PipelineStages:     3,
			LinkLatencyCycles:  1,
			VCs:                2,
			VCDepth:            4,
			FlitBits:           64,
			HeaderBits:         16,
			SpikeBits:          16,
			MaxSpikesPerPacket: 8,
			Multicast:          "source",
			Allocation:         "combined",
		},
	}
}
