// Package buildinfo says which grantd a binary is: its module version and
// the version control revision it was built from, as the Go toolchain
// recorded them (runtime/debug.ReadBuildInfo).
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Info is what the toolchain recorded of a build.
type Info struct {
	// Version is the main module's version: a release tag such as v1.2.0
	// for `go install module@version`, a pseudo-version derived from the
	// git revision for a build from a clone (Go 1.24 and later), "(devel)"
	// when the build recorded no revision.
	Version string `json:"version"`
	// Revision, RevisionTime and Modified are the version control commit
	// the binary was built from, its time, and whether the working tree
	// had changes; empty when the build did not stamp them (outside a
	// repository, or with -buildvcs=false).
	Revision     string `json:"revision,omitempty"`
	RevisionTime string `json:"revision_time,omitempty"`
	Modified     bool   `json:"modified,omitempty"`
	// Go is the toolchain's version.
	Go string `json:"go"`
}

// Read returns the running binary's build information.
func Read() Info {
	info := Info{Version: "unknown", Go: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return info
	}
	return fromBuildInfo(bi)
}

// fromBuildInfo extracts Info from bi.
func fromBuildInfo(bi *debug.BuildInfo) Info {
	info := Info{Version: bi.Main.Version, Go: bi.GoVersion}
	if info.Version == "" {
		info.Version = "unknown"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.time":
			info.RevisionTime = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return info
}
