package sweep

import (
	"fmt"
	"strconv"
	"strings"
)

// Shard is one of Count deterministic parts of a sweep: the points whose
// index modulo Count is Index-1. Dealing points out in turn, rather than in
// blocks, gives every shard a similar mix of cheap and costly points.
// Index is 1-based, so "2/3" is the second of three; the zero Shard is the
// whole sweep.
type Shard struct{ Index, Count int }

func (s Shard) String() string {
	if s.Count == 0 {
		return "all"
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// Contains reports whether the point with index i belongs to the shard.
func (s Shard) Contains(i int) bool { return s.Count == 0 || i%s.Count == s.Index-1 }

// ParseShard reads "i/n" with 1 ≤ i ≤ n.
func ParseShard(text string) (Shard, error) {
	is, ns, ok := strings.Cut(text, "/")
	i, err1 := strconv.Atoi(strings.TrimSpace(is))
	n, err2 := strconv.Atoi(strings.TrimSpace(ns))
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 1 || i > n {
		return Shard{}, fmt.Errorf("shard %q: want i/n with 1 ≤ i ≤ n, e.g. 2/3", text)
	}
	return Shard{Index: i, Count: n}, nil
}

// ShardFromEnv finds the shard of a job-array task from the scheduler's
// environment: a Slurm job array (SLURM_ARRAY_TASK_ID, _COUNT and, when
// set, _MIN and _STEP, so --array=1-8 and --array=0-14:2 both work) or a
// Kubernetes Indexed Job (JOB_COMPLETION_INDEX, 0-based, with the count
// given as count because Kubernetes does not export it). It returns the
// zero Shard and "" outside a job array; source names the variables used.
func ShardFromEnv(getenv func(string) string, count int) (s Shard, source string, err error) {
	atoi := func(name string, def int) (int, error) {
		v := getenv(name)
		if v == "" {
			return def, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, fmt.Errorf("%s=%q is not an integer", name, v)
		}
		return n, nil
	}
	if getenv("SLURM_ARRAY_TASK_ID") != "" {
		id, err := atoi("SLURM_ARRAY_TASK_ID", 0)
		if err != nil {
			return Shard{}, "", err
		}
		n, err := atoi("SLURM_ARRAY_TASK_COUNT", 0)
		if err != nil {
			return Shard{}, "", err
		}
		lo, err := atoi("SLURM_ARRAY_TASK_MIN", 0)
		if err != nil {
			return Shard{}, "", err
		}
		step, err := atoi("SLURM_ARRAY_TASK_STEP", 1)
		if err != nil {
			return Shard{}, "", err
		}
		if n < 1 || step < 1 || id < lo || (id-lo)%step != 0 || (id-lo)/step >= n {
			return Shard{}, "", fmt.Errorf("slurm array task %d does not fit an array of %d tasks from %d in steps of %d", id, n, lo, step)
		}
		if count > 0 && count != n {
			return Shard{}, "", fmt.Errorf("--shards %d disagrees with SLURM_ARRAY_TASK_COUNT=%d", count, n)
		}
		return Shard{Index: (id-lo)/step + 1, Count: n}, "SLURM_ARRAY_TASK_ID", nil
	}
	if getenv("JOB_COMPLETION_INDEX") != "" {
		idx, err := atoi("JOB_COMPLETION_INDEX", 0)
		if err != nil {
			return Shard{}, "", err
		}
		if count < 1 {
			return Shard{}, "", fmt.Errorf("JOB_COMPLETION_INDEX=%d is set but not the number of shards: pass --shards (the Job's completions)", idx)
		}
		if idx < 0 || idx >= count {
			return Shard{}, "", fmt.Errorf("JOB_COMPLETION_INDEX=%d is outside 0..%d (--shards %d)", idx, count-1, count)
		}
		return Shard{Index: idx + 1, Count: count}, "JOB_COMPLETION_INDEX", nil
	}
	if count > 0 {
		return Shard{}, "", fmt.Errorf("--shards %d without a shard index: use --shard i/n, or run in a Slurm job array or a Kubernetes Indexed Job", count)
	}
	return Shard{}, "", nil
}
