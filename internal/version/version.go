// Package version holds the version of nmsim.
package version

// Version is nmsim's version. It is part of the content hash of every sweep
// result (package sweep), so bump it whenever a change to the simulator can
// change a report's numbers: results recorded by an older version then no
// longer count as done and are simulated again instead of being mixed with
// new ones.
const Version = "0.1.0"
