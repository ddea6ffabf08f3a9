package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/nmsim/nmsim/arch"
	"github.com/nmsim/nmsim/internal/english"
	"github.com/nmsim/nmsim/noc"
	"github.com/nmsim/nmsim/report"
)

// nocCommand is `nmsim noc`: synthetic traffic on the network-on-chip
// alone.
type nocCommand struct {
	topology, size, pattern, routing string
	rate, hotspot, step              float64
	packetFlits, vcs, vcDepth        int
	pipeline, refine                 int
	warmup, measure                  int64
	seed                             uint64
	sweep                            bool
	sets                             setFlags
	jsonPath, outDir                 string
}

func (*nocCommand) Name() string { return "noc" }
func (*nocCommand) Synopsis() string {
	return "synthetic traffic on the network-on-chip: latency, throughput, saturation"
}

const nocUsage = `
Usage: nmsim noc [arch.toml] [flags]

Runs synthetic traffic through the cycle-level network-on-chip alone, the
way router models are validated (docs/noc.md): input-queued virtual-channel
routers with credit flow control, a p-stage pipeline, dimension-order
routing, on a mesh or torus.

Every node injects packets by a Bernoulli process at the offered load
--rate (flits per node per cycle). The first --warmup cycles fill the
network; the packets created in the next --measure cycles are measured,
and injection goes on until all of them have arrived (the drain). Latency
runs from a packet's creation, queueing at the source included, to its
tail's ejection; the zero-load latency is H·(p+l) + 2 + (L−1) for H
routers, p stages, link latency l and L flits, averaged over the pattern.

The network comes from arch.toml (default: the built-in preset, a 4×4
mesh); --set changes any key, and the flags below override both.

Patterns: uniform (any node, itself included), transpose (x,y)→(y,x),
bitcomp (the mirror image through the centre), hotspot (a fraction
--hotspot to the centre node, the rest uniform), neighbor (x+1,y+1).

--sweep raises the load in steps of --step until the mean latency reaches
3× the zero-load latency (saturation), bisects the last step --refine
times, prints the latency–throughput table and plots it to
latency.png and latency.svg in the directory --out (default noc-sweep,
created if missing).

Examples:
  nmsim noc --size 8x8 --rate 0.2
  nmsim noc --size 8x8 --pattern transpose --packet-flits 4 --sweep --out transpose8x8
  nmsim noc configs/rram-xnor.toml --topology torus --vcs 4 --sweep --json torus.json
`

func (c *nocCommand) Run(ctx context.Context, args []string, env *Env) error {
	fs := newFlagSet("noc", c.Synopsis(), nocUsage, env.Stderr)
	fs.StringVar(&c.topology, "topology", "", "mesh | torus (default: the arch file's)")
	fs.StringVar(&c.size, "size", "", "network size WxH, e.g. 8x8 (default: the arch file's)")
	fs.StringVar(&c.pattern, "pattern", "uniform", "traffic pattern: "+strings.Join(noc.Patterns, " | "))
	fs.Float64Var(&c.rate, "rate", 0.1, "offered load in flits per node per cycle, (0, 1]")
	fs.IntVar(&c.packetFlits, "packet-flits", 1, "flits per packet")
	fs.IntVar(&c.vcs, "vcs", 0, "virtual channels per port (default: the arch file's)")
	fs.IntVar(&c.vcDepth, "vc-depth", 0, "flits per virtual channel (default: the arch file's)")
	fs.IntVar(&c.pipeline, "pipeline", 0, "router pipeline stages (default: the arch file's)")
	fs.StringVar(&c.routing, "routing", "", "xy | yx (default: the arch file's)")
	fs.Int64Var(&c.warmup, "warmup", 1000, "warm-up cycles before measuring")
	fs.Int64Var(&c.measure, "measure", 10000, "cycles in which created packets are measured")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the injection process and the destinations")
	fs.Float64Var(&c.hotspot, "hotspot", 0.1, "fraction of packets to the centre node under --pattern hotspot")
	fs.BoolVar(&c.sweep, "sweep", false, "raise the load until saturation; print a table and write a plot")
	fs.Float64Var(&c.step, "step", 0.02, "load step of --sweep, flits per node per cycle")
	fs.IntVar(&c.refine, "refine", 4, "bisections of the saturating step in --sweep")
	fs.StringVar(&c.outDir, "out", "noc-sweep", "with --sweep: write the plot (latency.png, latency.svg) into this directory")
	fs.Var(&c.sets, "set", "override an arch key, e.g. --set noc.link_latency_cycles=2 (repeatable)")
	fs.StringVar(&c.jsonPath, "json", "", "also write the results as JSON to this file")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usageErr(fs, "want at most one arch.toml, got %s", english.Count(len(pos), "argument"))
	}
	if err := checkArgKinds(fs, pos, []string{"arch.toml"}); err != nil {
		return err
	}
	cfg, err := c.config(fs, pos)
	if err != nil {
		return err
	}
	tr := noc.Traffic{Pattern: c.pattern, Rate: c.rate, PacketFlits: c.packetFlits, Warmup: c.warmup, Measure: c.measure, Seed: c.seed, Hotspot: c.hotspot}
	net := describeNet(cfg)
	if !c.sweep {
		r, err := noc.Run(cfg, tr)
		if err != nil {
			return err
		}
		printNoCRun(env, net, r)
		return c.writeJSON(nocReport{Network: net, Result: r})
	}
	fmt.Fprintf(env.Stderr, "sweeping %s %s traffic on %s\n", c.pattern, plural(c.packetFlits, "flit"), net)
	sw, err := noc.RunSweep(cfg, tr, c.step, c.refine, func(r noc.Result) error {
		fmt.Fprintf(env.Stderr, "  offered %.4f: accepted %.4f, latency %.1f cycles\n",
			r.OfferedFlitsPerNodeCycle, r.AcceptedFlitsPerNodeCycle, r.AvgPacketLatencyCycles)
		return ctx.Err()
	})
	if err != nil {
		return err
	}
	printSweep(env, net, sw)
	if err := os.MkdirAll(c.outDir, 0o755); err != nil {
		return fmt.Errorf("noc: --out: %w", err)
	}
	r0 := sw.Table[0]
	title := fmt.Sprintf("%s, %s packets\n%s", r0.Pattern, plural(r0.PacketFlits, "flit"), net)
	paths, err := report.NoCSweepPlots(c.outDir, sw, title, []string{"png", "svg"})
	if err != nil {
		return fmt.Errorf("noc: plot: %w", err)
	}
	fmt.Fprintf(env.Stdout, "plot written to %s\n", strings.Join(paths, " and "))
	rep := nocReport{Network: net, Result: sw.BelowSaturation(), Saturation: &sw.SaturationFlitsPerNodeCycle, Table: sw.Table}
	return c.writeJSON(rep)
}

// config is the arch file (or the preset) with --set and then the flags
// that were given applied, validated as a whole.
func (c *nocCommand) config(fs *flag.FlagSet, pos []string) (*arch.Config, error) {
	cfg := arch.Default()
	var err error
	if len(pos) == 1 {
		if cfg, err = arch.LoadWith(pos[0], c.sets); err != nil {
			return nil, err
		}
	} else {
		if err := cfg.Override(c.sets); err != nil {
			return nil, err
		}
	}
	var bad error
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "topology":
			cfg.Chip.Topology = c.topology
		case "size":
			w, h, ok := parseSize(c.size)
			if !ok {
				bad = fmt.Errorf("noc: --size %q: want WxH, e.g. 8x8", c.size)
			}
			cfg.Chip.MeshWidth, cfg.Chip.MeshHeight = w, h
		case "vcs":
			cfg.NoC.VCs = c.vcs
		case "vc-depth":
			cfg.NoC.VCDepth = c.vcDepth
		case "pipeline":
			cfg.NoC.PipelineStages = c.pipeline
		case "routing":
			cfg.NoC.Routing = c.routing
		}
	})
	if bad != nil {
		return nil, bad
	}
	// The synthetic mode exercises the cycle-level routers whatever the
	// chip would use.
	cfg.NoC.Model = "cycle"
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("noc: the network's configuration:\n%w", err)
	}
	return cfg, nil
}

func parseSize(s string) (w, h int, ok bool) {
	a, b, found := strings.Cut(strings.ToLower(s), "x")
	w, err1 := strconv.Atoi(a)
	h, err2 := strconv.Atoi(b)
	return w, h, found && err1 == nil && err2 == nil
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1-" + unit
	}
	return fmt.Sprintf("%d-%s", n, unit)
}

// nocNetwork names the network a synthetic run used.
type nocNetwork struct {
	Topology       string `json:"topology"`
	Width          int    `json:"width"`
	Height         int    `json:"height"`
	Routing        string `json:"routing"`
	PipelineStages int    `json:"pipeline_stages"`
	LinkLatency    int    `json:"link_latency_cycles"`
	VCs            int    `json:"vcs"`
	VCDepth        int    `json:"vc_depth"`
}

func (n nocNetwork) String() string {
	return fmt.Sprintf("%d×%d %s, %s routing, %d-stage routers, %d VCs × %d flits",
		n.Width, n.Height, n.Topology, n.Routing, n.PipelineStages, n.VCs, n.VCDepth)
}

func describeNet(cfg *arch.Config) nocNetwork {
	return nocNetwork{
		Topology: cfg.Chip.Topology, Width: cfg.Chip.MeshWidth, Height: cfg.Chip.MeshHeight,
		Routing: cfg.NoC.Routing, PipelineStages: cfg.NoC.PipelineStages, LinkLatency: cfg.NoC.LinkLatencyCycles,
		VCs: cfg.NoC.VCs, VCDepth: cfg.NoC.VCDepth,
	}
}

// nocReport is the JSON of `nmsim noc`: one run's keys at the top level
// (with --sweep, those of the highest load below saturation) and, with
// --sweep, the saturation point and every measured point.
type nocReport struct {
	Network nocNetwork `json:"network"`
	noc.Result
	Saturation *float64     `json:"saturation_flits_per_node_cycle,omitempty"`
	Table      []noc.Result `json:"table,omitempty"`
}

func (c *nocCommand) writeJSON(r nocReport) error {
	if c.jsonPath == "" {
		return nil
	}
	if err := writeJSON(c.jsonPath, r); err != nil {
		return fmt.Errorf("noc: %w", err)
	}
	return nil
}

func printNoCRun(env *Env, net nocNetwork, r noc.Result) {
	fmt.Fprintf(env.Stdout, "%s %s traffic on %s\n", r.Pattern, plural(r.PacketFlits, "flit"), net)
	rows := [][]string{
		{"offered load", fmt.Sprintf("%.4f flits/node/cycle", r.OfferedFlitsPerNodeCycle)},
		{"accepted throughput", fmt.Sprintf("%.4f flits/node/cycle", r.AcceptedFlitsPerNodeCycle)},
		{"packet latency mean", fmt.Sprintf("%.2f cycles (zero-load %.2f)", r.AvgPacketLatencyCycles, r.ZeroLoadLatencyCycles)},
		{"packet latency p50 / p99 / max", fmt.Sprintf("%d / %d / %d cycles", r.P50PacketLatencyCycles, r.P99PacketLatencyCycles, r.MaxPacketLatencyCycles)},
		{"hops mean", fmt.Sprintf("%.2f", r.AvgHops)},
		{"link utilisation max / mean", fmt.Sprintf("%.3f / %.3f", r.MaxLinkUtilisation, r.MeanLinkUtilisation)},
		{"measured packets", fmt.Sprint(r.MeasuredPackets)},
		{"packets generated / injected / delivered", fmt.Sprintf("%d / %d / %d", r.PacketsGenerated, r.PacketsInjected, r.PacketsDelivered)},
		{"simulated cycles", fmt.Sprint(r.Cycles)},
	}
	if !r.Stable {
		rows = append(rows, []string{"stable", "no: measured packets were still undelivered at the drain limit (past saturation)"})
	}
	table(env.Stdout, defaultTableWidth, []string{"metric", "value"}, rows)
}

func printSweep(env *Env, net nocNetwork, sw noc.Sweep) {
	w := env.Stdout
	r0 := sw.Table[0]
	fmt.Fprintf(w, "%s %s traffic on %s\n", r0.Pattern, plural(r0.PacketFlits, "flit"), net)
	var rows [][]string
	for _, r := range sw.Table {
		note := ""
		if !r.Stable {
			note = "unstable"
		} else if sw.Saturated(r) {
			note = fmt.Sprintf("≥ %d× zero-load", noc.SaturationLatencyFactor)
		}
		rows = append(rows, []string{
			fmt.Sprintf("%.4f", r.OfferedFlitsPerNodeCycle), fmt.Sprintf("%.4f", r.AcceptedFlitsPerNodeCycle),
			fmt.Sprintf("%.1f", r.AvgPacketLatencyCycles), fmt.Sprint(r.P99PacketLatencyCycles),
			fmt.Sprintf("%.3f", r.MaxLinkUtilisation), note,
		})
	}
	table(w, defaultTableWidth, []string{"offered", "accepted", "latency mean", "latency p99", "max link util", ""}, rows)
	fmt.Fprintf(w, "zero-load latency %.2f cycles; saturation (mean latency = %d× zero-load) at %.4f flits/node/cycle\n",
		sw.ZeroLoadLatencyCycles, noc.SaturationLatencyFactor, sw.SaturationFlitsPerNodeCycle)
}
