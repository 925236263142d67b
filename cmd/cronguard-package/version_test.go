package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cronguard/cronguard/packaging"
	"github.com/cronguard/cronguard/packaging/debtest"
)

// TestMakeVersionSorts: the Makefile's VERSION of two commits, as the
// .deb gets it, sorts by commit time under dpkg --compare-versions, also
// when the later commit's hash sorts first (where a bare hash, the old
// version, went backwards); a tag then sorts above both, and a commit
// after the tag above the tag.
func TestMakeVersionSorts(t *testing.T) {
	debtest.Tool(t, "git", "git")
	debtest.Tool(t, "make", "make")
	debtest.Tool(t, "dpkg", "dpkg")
	makefile := filepath.Join(debtest.ModuleRoot(t), "Makefile")
	repo := t.TempDir()
	env := append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	sh := func(extra []string, name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = repo
		cmd.Env = append(append([]string(nil), env...), extra...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	commit := func(date, msg string) string {
		at := []string{"GIT_COMMITTER_DATE=" + date, "GIT_AUTHOR_DATE=" + date}
		sh(at, "git", "commit", "-q", "--allow-empty", "-m", msg)
		return sh(nil, "git", "rev-parse", "--short", "HEAD")
	}
	version := func(rev string) string {
		sh(nil, "git", "checkout", "-q", rev)
		// The version the .deb gets: make's VERSION through the packager.
		return packaging.DebianVersion(sh(nil, "make", "-s", "--no-print-directory", "-f", makefile, "version"))
	}
	less := func(a, b string) bool {
		return exec.Command("dpkg", "--compare-versions", a, "lt", b).Run() == nil
	}
	sh(nil, "git", "init", "-q", "-b", "main")
	first := commit("2025-01-01T10:00:00+02:00", "first")
	// A later commit whose hash sorts below the first's.
	var second string
	for i := 0; ; i++ {
		if i > 0 {
			sh(nil, "git", "reset", "-q", "--hard", "HEAD~1")
		}
		second = commit("2025-01-02T09:08:07Z", "second "+strings.Repeat("x", i))
		if second < first {
			break
		}
	}
	if !less("0~"+second, "0~"+first) {
		t.Fatalf("a bare hash should sort backwards here: %s, %s", first, second)
	}
	v1, v2 := version(first), version(second)
	if !regexp.MustCompile(`^0\.0~git20250101080000\.` + first + `$`).MatchString(v1) {
		t.Errorf("version of the first commit %q, want 0.0~git20250101080000.%s (commit time in UTC)", v1, first)
	}
	if err := packaging.CheckVersion(v2); err != nil || v2 != "0.0~git20250102090807."+second {
		t.Errorf("version of the second commit %q (%v)", v2, err)
	}
	if !less(v1, v2) {
		t.Errorf("dpkg sorts %s (later) below %s", v2, v1)
	}
	sh(nil, "git", "tag", "v1.0", second)
	third := commit("2025-01-03T00:00:00Z", "third")
	tagged, after := version("v1.0"), version(third)
	if tagged != "1.0" || after != "1.0+1+g"+third {
		t.Errorf("tagged %q, after the tag %q; want 1.0 and 1.0+1+g%s", tagged, after, third)
	}
	if !less(v2, tagged) || !less(tagged, after) {
		t.Errorf("want %s < %s < %s", v2, tagged, after)
	}
}
