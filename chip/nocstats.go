package chip

import "github.com/nmsim/nmsim/noc"

// NoCStats returns the network's traffic statistics (packets, latencies,
// per-link flits) since the last call, and whether the network stalled.
// Stats from several workers add up with noc.Stats.Add.
func (w *Worker) NoCStats() (noc.Stats, error) {
	return w.net.TakeStats(), w.net.Err()
}
