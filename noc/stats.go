package noc

// Stats describe the traffic a network carried: what was injected, when it
// arrived, and how busy each link was. Every field is a sum, a maximum or
// a histogram, so Stats taken from several workers add up to the same
// totals in any order.
type Stats struct {
	Packets    int64 // packets injected (a source-replicated multicast counts one per copy)
	Flits      int64 // flits injected
	Deliveries int64 // packet arrivals at a destination (a tree multicast arrives at each)
	FlitsOut   int64 // flits ejected at destinations
	LatencySum int64 // Σ cycles from Send to the tail's ejection, over deliveries
	LatencyMax int64
	HopsSum    int64 // Σ links crossed, over deliveries
	// RouterCycles counts router evaluations, the simulator's own work:
	// a router is evaluated only in cycles in which a flit of its could
	// move, so an idle network costs nothing.
	RouterCycles int64
	// Latency[c] is the number of deliveries that took c cycles.
	Latency []int64
	// LinkFlits[4·r + d] counts flits over the link leaving router r in
	// direction d (x+, x−, y+, y−); links off the edge of a mesh stay 0.
	LinkFlits []int64
}

// Add folds o into s.
func (s *Stats) Add(o Stats) {
	s.Packets += o.Packets
	s.Flits += o.Flits
	s.Deliveries += o.Deliveries
	s.FlitsOut += o.FlitsOut
	s.LatencySum += o.LatencySum
	s.LatencyMax = max(s.LatencyMax, o.LatencyMax)
	s.HopsSum += o.HopsSum
	s.RouterCycles += o.RouterCycles
	s.Latency = addInto(s.Latency, o.Latency)
	s.LinkFlits = addInto(s.LinkFlits, o.LinkFlits)
}

func addInto(dst, src []int64) []int64 {
	for len(dst) < len(src) {
		dst = append(dst, 0)
	}
	for i, v := range src {
		dst[i] += v
	}
	return dst
}

// record adds one delivery.
func (s *Stats) record(latency int64, hops int) {
	s.Deliveries++
	s.LatencySum += latency
	s.LatencyMax = max(s.LatencyMax, latency)
	s.HopsSum += int64(hops)
	for int64(len(s.Latency)) <= latency {
		s.Latency = append(s.Latency, 0)
	}
	s.Latency[latency]++
}

// MeanLatency is the mean packet latency in cycles (0 without deliveries).
func (s *Stats) MeanLatency() float64 {
	if s.Deliveries == 0 {
		return 0
	}
	return float64(s.LatencySum) / float64(s.Deliveries)
}

// MeanHops is the mean number of links a delivered packet crossed.
func (s *Stats) MeanHops() float64 {
	if s.Deliveries == 0 {
		return 0
	}
	return float64(s.HopsSum) / float64(s.Deliveries)
}

// Percentile is the smallest latency that at least q (0..1) of the
// deliveries did not exceed.
func (s *Stats) Percentile(q float64) int64 {
	if s.Deliveries == 0 {
		return 0
	}
	need := int64(q * float64(s.Deliveries))
	if float64(need) < q*float64(s.Deliveries) || need == 0 {
		need++
	}
	var seen int64
	for c, n := range s.Latency {
		seen += n
		if seen >= need {
			return int64(c)
		}
	}
	return s.LatencyMax
}

// MaxLinkUtilisation is the busiest link's flits per cycle over cycles
// cycles: 1 means it carried a flit in every cycle.
func (s *Stats) MaxLinkUtilisation(cycles int64) float64 {
	if cycles <= 0 {
		return 0
	}
	var m int64
	for _, v := range s.LinkFlits {
		m = max(m, v)
	}
	return float64(m) / float64(cycles)
}
