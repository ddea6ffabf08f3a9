// Package version holds the version of nmsim.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is nmsim's version. It is part of the content hash of every sweep
// result (package sweep), so bump it whenever a change to the simulator can
// change a report's numbers: results recorded by an older version then no
// longer count as done and are simulated again instead of being mixed with
// new ones.
const Version = "0.1.0"

// Commit is the git revision the running binary was built from, with
// "+dirty" when the working tree had uncommitted changes; for a binary
// installed with 'go install …/cmd/nmsim@version', which carries no VCS
// stamp, the module version (a pseudo-version names the commit); "" when
// the build says neither (go run, go test, -buildvcs=false).
func Commit() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	if c := commit(info.Settings); c != "" {
		return c
	}
	if v := info.Main.Version; v != "(devel)" {
		return v
	}
	return ""
}

func commit(settings []debug.BuildSetting) string {
	rev, dirty := "", false
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev != "" && dirty {
		rev += "+dirty"
	}
	return rev
}

// String describes the running binary: version, commit (if known), the Go
// toolchain and the platform, e.g.
// "nmsim 0.1.0 (commit 1a2b3c…+dirty) go1.26.8 linux/amd64".
func String() string {
	c := Commit()
	if c == "" {
		c = "unknown: built without VCS information"
	}
	return fmt.Sprintf("nmsim %s (commit %s) %s %s/%s", Version, c, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
