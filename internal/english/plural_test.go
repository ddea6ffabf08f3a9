package english

import "testing"

func TestCount(t *testing.T) {
	for _, tc := range []struct {
		n    int
		noun string
		want string
	}{
		{1, "timestep", "1 timestep"},
		{0, "timestep", "0 timesteps"},
		{16, "timestep", "16 timesteps"},
		{-1, "sample", "-1 sample"},
		{2, "directory", "2 directories"},
		{1, "directory", "1 directory"},
		{3, "day", "3 days"},
		{10, "class", "10 classes"},
		{2, "patch", "2 patches"},
	} {
		if got := Count(tc.n, tc.noun); got != tc.want {
			t.Errorf("Count(%d, %q) = %q, want %q", tc.n, tc.noun, got, tc.want)
		}
	}
}
