package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	tests := []struct {
		name string
		bi   debug.BuildInfo
		want Info
	}{
		{"release", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"}},
			Info{Version: "v1.2.0", Go: "go1.26.8"}},
		{"working tree", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "4166faa0"},
				{Key: "vcs.time", Value: "2026-12-06T12:00:00Z"}, {Key: "vcs.modified", Value: "true"}}},
			Info{Version: "(devel)", Revision: "4166faa0", RevisionTime: "2026-12-06T12:00:00Z", Modified: true, Go: "go1.26.8"}},
		{"nothing recorded", debug.BuildInfo{GoVersion: "go1.26.8"}, Info{Version: "unknown", Go: "go1.26.8"}},
	}
	for _, tt := range tests {
		if got := fromBuildInfo(&tt.bi); got != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.name, got, tt.want)
		}
	}
}
