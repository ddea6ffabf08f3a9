package runner

import (
	"github.com/nmsim/nmsim/chip"
	"github.com/nmsim/nmsim/energy"
)

// Result is the outcome of a run; its JSON form is what `nmsim run --json`
// writes. It holds no wall-clock values, so two runs compare byte for byte.
type Result struct {
	Model     string  `json:"model"`
	Dataset   string  `json:"dataset"`
	Samples   int     `json:"samples"`
	Correct   int     `json:"correct"`
	Accuracy  float64 `json:"accuracy"`
	Timesteps int     `json:"timesteps"`
	// AccuracyAt is the accuracy read out after fewer timesteps of the
	// same run (what a run of that many timesteps gives).
	AccuracyAt []TimestepAccuracy `json:"accuracy_at,omitempty"`
	Seed       uint64             `json:"seed"`
	ClockMHz   float64            `json:"clock_mhz"`
	Cycles     struct {
		Total        int64   `json:"total"`
		PerInference float64 `json:"per_inference"`
	} `json:"cycles"`
	LatencyS struct {
		PerInference float64 `json:"per_inference"`
	} `json:"latency_s"`
	Energy struct {
		Total        float64            `json:"total"`
		PerInference float64            `json:"per_inference"`
		Breakdown    map[string]float64 `json:"breakdown"`
	} `json:"energy_j"`
	// Tech is the node, supply and transistor flavour (the leakage's
	// process: lstp, lop or hp) the energy model scaled to.
	Tech struct {
		NodeNM  float64 `json:"node_nm"`
		Vdd     float64 `json:"vdd"`
		Process string  `json:"process"`
	} `json:"tech"`
	AreaMM2 energy.Area `json:"area_mm2"`
	// PowerW: average is the energy over the run's time; peak every
	// component of every powered tile at its maximum rate, plus leakage.
	PowerW struct {
		Average float64 `json:"average"`
		energy.Peak
	} `json:"power_w"`
	EDPJS float64 `json:"edp_js"` // energy per inference × latency per inference
	// SynapticOps counts one driven row × one weight (a weight of any
	// width, on a binary input bit-plane) per inference; TOPSPerW is
	// those operations per second per watt of average power, i.e. per
	// joule, in tera.
	SynapticOps    float64 `json:"synaptic_ops_per_inference"`
	TOPSPerW       float64 `json:"tops_per_w"`
	InferencesPerS float64 `json:"inferences_per_s"` // one sample at a time: 1 / latency per inference`
	Spikes         struct {
		Total        int64   `json:"total"`
		PerInference float64 `json:"per_inference"`
		PerLayer     []int64 `json:"per_layer"`
	} `json:"spikes"`
	// Decision is set for a model read out by its first output spike,
	// whose runs stop as soon as the class is known.
	Decision *DecisionReport `json:"decision,omitempty"`
	Golden   *struct {
		Mismatches int64 `json:"mismatches"`
	} `json:"golden,omitempty"`
	NoC        NoCReport   `json:"noc"`
	MonteCarlo *MonteCarlo `json:"mc,omitempty"`
	Chip       ChipReport  `json:"chip"`
	// Provenance is how the report was made; the command that ran it
	// sets it.
	Provenance *Provenance   `json:"provenance,omitempty"`
	Layers     []LayerReport `json:"layers"`
	Counters   chip.Counters `json:"counters"`
}

// DecisionReport is the time to decision of a first-spike model, or of a
// rate-coded model run with an early exit.
type DecisionReport struct {
	// Decided is the fraction of samples whose output layer fired within
	// the run, or whose lead settled (early exit); the rest ran all
	// timesteps and were read by membrane.
	Decided float64 `json:"decided"`
	// MeanTimesteps is the mean number of timesteps run: the decision
	// timestep, or the run length for an undecided sample. Cycles per
	// inference is the matching time to decision in cycles.
	MeanTimesteps float64 `json:"mean_timesteps"`
	// Timesteps is the run length: no sample runs longer.
	Timesteps int `json:"timesteps"`
	// ExitMargin and ExitSteps are the early exit's rule (chip.EarlyExit)
	// for a rate-coded model, whose decision is when the lead settled.
	ExitMargin float64 `json:"exit_margin,omitempty"`
	ExitSteps  int     `json:"exit_steps,omitempty"`
}

// ChipReport is the occupancy of the chip.
type ChipReport struct {
	Mesh            string  `json:"mesh"`
	Tiles           int     `json:"tiles"`
	TilesUsed       int     `json:"tiles_used"`
	Crossbars       int     `json:"crossbars"`
	CrossbarsUsed   int     `json:"crossbars_used"`
	CellUtilization float64 `json:"cell_utilization"`
}

// LayerReport is one weight layer's share.
type LayerReport struct {
	Name               string        `json:"name"`
	Crossbars          int           `json:"crossbars"`
	Tiles              int           `json:"tiles"`
	RowSplits          int           `json:"row_splits"`
	ColSplits          int           `json:"col_splits"`
	CellUtilization    float64       `json:"cell_utilization"`
	Spikes             int64         `json:"spikes"`
	SpikesPerInference float64       `json:"spikes_per_inference"`
	EnergyJ            float64       `json:"energy_j"` // dynamic energy of the layer
	Counters           chip.Counters `json:"counters"`
}

// TimestepAccuracy is the accuracy after a number of timesteps.
type TimestepAccuracy struct {
	Timesteps int     `json:"timesteps"`
	Accuracy  float64 `json:"accuracy"`
}

// NoCReport is the network's traffic over the whole run.
type NoCReport struct {
	Model              string  `json:"model"`
	Multicast          string  `json:"multicast"`
	Packets            int64   `json:"packets"`
	Flits              int64   `json:"flits"`
	AvgLatencyCycles   float64 `json:"avg_latency_cycles"`
	P99LatencyCycles   int64   `json:"p99_latency_cycles"`
	MaxLatencyCycles   int64   `json:"max_latency_cycles"`
	MeanHops           float64 `json:"mean_hops"`
	MaxLinkUtilisation float64 `json:"max_link_utilisation"` // busiest link's flits per cycle of the run
}
