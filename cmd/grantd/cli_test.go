package main_test

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// everyCommand lists every command and sub-command of the command line.
var everyCommand = [][]string{
	{"serve"}, {"migrate"}, {"version"},
	{"client"}, {"client", "create"}, {"client", "list"}, {"client", "show"}, {"client", "update"},
	{"client", "delete"}, {"client", "rotate-secret"}, {"client", "disable"}, {"client", "enable"},
	{"user"}, {"user", "create"}, {"user", "list"}, {"user", "show"}, {"user", "set-password"},
	{"user", "disable"}, {"user", "enable"}, {"user", "delete"},
	{"grant"}, {"grant", "list"}, {"grant", "revoke"},
	{"keys"}, {"keys", "list"}, {"keys", "rotate"},
}

// singleDashFlag finds a flag written -name, which grantd's usage never
// shows: flags are --name throughout.
var singleDashFlag = regexp.MustCompile(`(^|[\s\[(|])-[a-z][a-z-]+`)

// TestHelp: -h and --help on every command and sub-command print that
// command's own usage on standard output and exit 0, with flags in the
// --flag style; `grantd help COMMAND` prints the same.
func TestHelp(t *testing.T) {
	db := filepath.Join(t.TempDir(), "g.db")
	for _, cmd := range append(everyCommand, nil) {
		name := strings.Join(cmd, " ")
		for _, h := range []string{"-h", "--help"} {
			out, stderr, code := grantd(t, db, "", append(append([]string{}, cmd...), h)...)
			if code != 0 || stderr != "" {
				t.Errorf("grantd %s %s: exit %d, stderr %q; want 0 and nothing", name, h, code, stderr)
				continue
			}
			if !strings.HasPrefix(out, strings.TrimSpace("usage: grantd "+name)) {
				t.Errorf("grantd %s %s printed %q; want its own usage", name, h, firstLine(out))
			}
			if m := singleDashFlag.FindString(out); m != "" {
				t.Errorf("grantd %s %s shows a flag as %q; want --flag", name, h, strings.TrimSpace(m))
			}
			if len(cmd) == 2 && cmd[0] != "version" && !strings.Contains(out, "--database") && name != "serve" {
				t.Errorf("grantd %s %s does not show --database", name, h)
			}
		}
		if cmd == nil {
			continue
		}
		viaHelp, _, code := grantd(t, db, "", append([]string{"help"}, cmd...)...)
		direct, _, _ := grantd(t, db, "", append(append([]string{}, cmd...), "--help")...)
		if code != 0 || viaHelp != direct {
			t.Errorf("grantd help %s: exit %d, %q; want what --help prints", name, code, firstLine(viaHelp))
		}
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// TestUsageErrors: a mistake in how a command is called exits 2 with one
// line on standard error that names the flag or argument at fault, and
// prints nothing on standard output.
func TestUsageErrors(t *testing.T) {
	db := filepath.Join(t.TempDir(), "g.db")
	tests := []struct {
		args []string
		want string // part of the one line
	}{
		{nil, "no command given"},
		{[]string{"frob"}, `unknown command "frob"`},
		{[]string{"client"}, "give a sub-command"},
		{[]string{"client", "frob"}, `unknown sub-command "frob"`},
		{[]string{"client", "create", "--frob"}, "unknown flag --frob"},
		{[]string{"client", "create", "-frob"}, "unknown flag --frob"},
		{[]string{"client", "create"}, "--id is required"},
		{[]string{"client", "create", "--id"}, "--id needs a value"},
		{[]string{"client", "create", "--id", "x", "--public", "--secret", "0123456789"}, "--secret or --public"},
		{[]string{"client", "create", "--id", "x", "--introspect=maybe"}, `--introspect "maybe"`},
		{[]string{"client", "show"}, "give the ID"},
		{[]string{"client", "show", "a", "b"}, `unexpected argument "b"`},
		{[]string{"client", "update"}, "give the ID"},
		{[]string{"client", "update", "tv", "--secret", "x"}, "unknown flag --secret"},
		{[]string{"client", "update", "tv", "--public"}, "unknown flag --public"},
		{[]string{"client", "list", "--output", "yaml"}, `--output "yaml"`},
		{[]string{"client", "rotate-secret", "tv", "--grace", "soon"}, `--grace "soon"`},
		{[]string{"client", "rotate-secret", "tv", "--grace", "-1h"}, "--grace -1h0m0s: must not be negative"},
		{[]string{"client", "delete"}, "give the ID"},
		{[]string{"user", "create", "--username", "a"}, "--password or --password-stdin is required"},
		{[]string{"user", "create", "--username", "a", "--password", "x", "--password-stdin"}, "not both"},
		{[]string{"user", "list", "--limit", "0"}, "--limit 0"},
		{[]string{"user", "list", "--limit", "x"}, `--limit "x"`},
		{[]string{"user", "set-password", "alice"}, "--password-stdin is required"},
		{[]string{"user", "set-password", "--password-stdin"}, "give the USER"},
		{[]string{"user", "disable"}, "give the USER"},
		{[]string{"user", "delete", "a", "b"}, `unexpected argument "b"`},
		{[]string{"grant", "list"}, "give --user or --client"},
		{[]string{"grant", "list", "--user", "a", "--client", "b"}, "give --user or --client"},
		{[]string{"grant", "revoke"}, "give a grant ID or --user"},
		{[]string{"grant", "revoke", "g", "--user", "a"}, "give a grant ID or --user"},
		{[]string{"keys", "rotate", "--alg", "HS256"}, `--alg "HS256"`},
		{[]string{"keys", "rotate", "--immediately", "--publish-ahead", "1m"}, "--immediately or --publish-ahead"},
		{[]string{"version", "extra"}, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		out, stderr, code := grantd(t, db, "", tt.args...)
		lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
		if code != 2 || out != "" || len(lines) != 1 || !strings.HasPrefix(stderr, "grantd: ") || !strings.Contains(stderr, tt.want) {
			t.Errorf("grantd %s: exit %d, stdout %q, stderr %q; want exit 2 and one line saying %q",
				strings.Join(tt.args, " "), code, out, stderr, tt.want)
		}
	}
}

// TestFailuresExit1: a command called right that fails — a duplicate, a
// missing object, a refused value — exits 1 with the reason in the
// operator's words.
func TestFailuresExit1(t *testing.T) {
	db := filepath.Join(t.TempDir(), "g.db")
	if _, stderr, code := grantd(t, db, "", "client", "create", "--id", "demo-device", "--scope", "openid"); code != 0 {
		t.Fatalf("client create: %s", stderr)
	}
	if _, stderr, code := grantd(t, db, "", "user", "create", "--username", "alice", "--password", "long enough"); code != 0 {
		t.Fatalf("user create: %s", stderr)
	}
	tests := []struct {
		args []string
		want string // the one line
	}{
		{[]string{"client", "create", "--id", "demo-device"}, `grantd: client "demo-device" already exists`},
		{[]string{"user", "create", "--username", "alice", "--password", "long enough"}, `grantd: user "alice" already exists`},
		{[]string{"client", "show", "nope"}, `grantd: client "nope" not found`},
		{[]string{"client", "delete", "nope"}, `grantd: client "nope" not found`},
		{[]string{"client", "rotate-secret", "nope"}, `grantd: client "nope" not found`},
		{[]string{"user", "show", "bob"}, `grantd: user "bob" not found`},
		{[]string{"user", "delete", "bob"}, `grantd: user "bob" not found`},
		{[]string{"grant", "revoke", "g-1"}, `grantd: grant "g-1" not found`},
		{[]string{"grant", "list", "--client", "nope"}, `grantd: client "nope" not found`},
		{[]string{"client", "create", "--id", "web", "--grant-type", "authorization_code"},
			`grantd: client "web": the authorization_code grant needs a redirect URI (--redirect-uri): /authorize has nowhere to send the code`},
	}
	for _, tt := range tests {
		out, stderr, code := grantd(t, db, "", tt.args...)
		if code != 1 || out != "" || stderr != tt.want+"\n" {
			t.Errorf("grantd %s: exit %d, stdout %q, stderr %q; want exit 1 and %q",
				strings.Join(tt.args, " "), code, out, stderr, tt.want)
		}
	}
}

// TestVersion: grantd version prints what the Go toolchain recorded of
// the build (go version -m): the module version and, when the build
// stamped it, the VCS revision. A build from a git clone stamps the
// revision of HEAD.
func TestVersion(t *testing.T) {
	out, stderr, code := grantd(t, filepath.Join(t.TempDir(), "g.db"), "", "version")
	if code != 0 {
		t.Fatalf("grantd version: exit %d: %s", code, stderr)
	}
	if alias, _, _ := grantd(t, "", "", "--version"); alias != out {
		t.Errorf("grantd --version printed %q, want what grantd version prints", alias)
	}
	checkVersion(t, binary, out)

	stamped := filepath.Join(t.TempDir(), "grantd")
	if out, err := exec.Command("go", "build", "-buildvcs=true", "-o", stamped, ".").CombinedOutput(); err != nil {
		t.Fatalf("build with -buildvcs=true: %v\n%s", err, out)
	}
	got, err := exec.Command(stamped, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	v := checkVersion(t, stamped, string(got))
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	switch {
	case v["revision"] == "":
		t.Logf("the toolchain stamped no revision here (not a git clone: a worktree, or no git)")
	case err != nil || v["revision"] != strings.TrimSpace(string(head)):
		t.Errorf("revision %q, want git HEAD %s (%v)", v["revision"], head, err)
	}
}

// checkVersion checks that printed, grantd version's output, reports what
// go version -m finds in the binary bin, and returns it.
func checkVersion(t *testing.T, bin, printed string) map[string]string {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(printed), &v); err != nil {
		t.Fatalf("grantd version printed %q: %v", printed, err)
	}
	meta, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	want := map[string]string{"revision": ""}
	for _, line := range strings.Split(string(meta), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[0] == "mod":
			want["version"] = f[2]
		case len(f) == 2 && f[0] == "build" && strings.HasPrefix(f[1], "vcs.revision="):
			want["revision"] = strings.TrimPrefix(f[1], "vcs.revision=")
		case len(f) == 2 && f[0] == bin+":":
			want["go"] = f[1]
		}
	}
	got := map[string]string{}
	for k := range want {
		got[k], _ = v[k].(string)
	}
	if want["go"] != got["go"] || want["version"] != got["version"] || want["revision"] != got["revision"] {
		t.Errorf("grantd version printed %v; go version -m %s says %v", got, bin, want)
	}
	return got
}
