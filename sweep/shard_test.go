package sweep

import (
	"strings"
	"testing"
)

// TestShardPartition: for any count the shards are disjoint and together
// hold every point, and they differ in size by at most one.
func TestShardPartition(t *testing.T) {
	const points = 24
	for n := 1; n <= 30; n++ {
		owner := make([]int, points)
		sizes := make([]int, n)
		for i := 1; i <= n; i++ {
			s := Shard{Index: i, Count: n}
			for p := range points {
				if s.Contains(p) {
					if owner[p] != 0 {
						t.Fatalf("n=%d: point %d in shards %d and %d", n, p, owner[p], i)
					}
					owner[p] = i
					sizes[i-1]++
				}
			}
		}
		for p, o := range owner {
			if o == 0 {
				t.Fatalf("n=%d: point %d in no shard", n, p)
			}
		}
		lo, hi := points, 0
		for _, s := range sizes {
			lo, hi = min(lo, s), max(hi, s)
		}
		if hi-lo > 1 {
			t.Errorf("n=%d: shard sizes %v", n, sizes)
		}
	}
	for p := range points {
		if !(Shard{}).Contains(p) {
			t.Fatal("the zero shard must hold every point")
		}
	}
}

func TestParseShard(t *testing.T) {
	if s, err := ParseShard("2/3"); err != nil || s != (Shard{2, 3}) || s.String() != "2/3" {
		t.Errorf("2/3: %v %v", s, err)
	}
	for _, bad := range []string{"0/3", "4/3", "3", "a/b", "1/0", "-1/2", ""} {
		if _, err := ParseShard(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestShardFromEnv(t *testing.T) {
	cases := []struct {
		env    map[string]string
		count  int
		want   Shard
		source string
		err    string
	}{
		{env: nil, want: Shard{}},
		{env: map[string]string{"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "3", "SLURM_ARRAY_TASK_MIN": "0"}, want: Shard{1, 3}, source: "SLURM_ARRAY_TASK_ID"},
		{env: map[string]string{"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "3", "SLURM_ARRAY_TASK_MIN": "1"}, want: Shard{3, 3}, source: "SLURM_ARRAY_TASK_ID"},
		{env: map[string]string{"SLURM_ARRAY_TASK_ID": "14", "SLURM_ARRAY_TASK_COUNT": "8", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_STEP": "2"}, want: Shard{8, 8}, source: "SLURM_ARRAY_TASK_ID"},
		{env: map[string]string{"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_COUNT": "3", "SLURM_ARRAY_TASK_MIN": "0"}, err: "does not fit"},
		{env: map[string]string{"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "3"}, count: 4, err: "disagrees"},
		{env: map[string]string{"SLURM_ARRAY_TASK_ID": "x", "SLURM_ARRAY_TASK_COUNT": "3"}, err: "not an integer"},
		{env: map[string]string{"JOB_COMPLETION_INDEX": "0"}, count: 4, want: Shard{1, 4}, source: "JOB_COMPLETION_INDEX"},
		{env: map[string]string{"JOB_COMPLETION_INDEX": "3"}, count: 4, want: Shard{4, 4}, source: "JOB_COMPLETION_INDEX"},
		{env: map[string]string{"JOB_COMPLETION_INDEX": "4"}, count: 4, err: "outside 0..3"},
		{env: map[string]string{"JOB_COMPLETION_INDEX": "1"}, err: "pass --shards"},
		{env: nil, count: 3, err: "without a shard index"},
	}
	for _, c := range cases {
		s, source, err := ShardFromEnv(func(k string) string { return c.env[k] }, c.count)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%v --shards %d: error %v, want %q", c.env, c.count, err, c.err)
			}
			continue
		}
		if err != nil || s != c.want || source != c.source {
			t.Errorf("%v --shards %d: %v %q %v; want %v %q", c.env, c.count, s, source, err, c.want, c.source)
		}
	}
}
