package version

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestCommit(t *testing.T) {
	for _, tc := range []struct {
		settings []debug.BuildSetting
		want     string
	}{
		{nil, ""},
		{[]debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "false"}}, "abc"},
		{[]debug.BuildSetting{{Key: "vcs.modified", Value: "true"}, {Key: "vcs.revision", Value: "abc"}}, "abc+dirty"},
		{[]debug.BuildSetting{{Key: "vcs.modified", Value: "true"}}, ""},
	} {
		if got := commit(tc.settings); got != tc.want {
			t.Errorf("commit(%v) = %q, want %q", tc.settings, got, tc.want)
		}
	}
	if s := String(); !strings.HasPrefix(s, "nmsim "+Version+" (commit ") || !strings.Contains(s, " go1.") {
		t.Errorf("String() = %q", s)
	}
}
