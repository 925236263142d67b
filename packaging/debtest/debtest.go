// Package debtest is a test helper: Debian's own tools (dpkg-deb, lintian)
// run on the packages cronguard builds, and Go builds of cronguard's
// binaries. A missing tool skips the test, or fails it when
// CRONGUARD_REQUIRE_TOOLS=1 (CI, where .ci/run installs them).
package debtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/cronguard/cronguard/internal/shimtest"
)

// Tool returns the path of a tool, or skips (fails under
// CRONGUARD_REQUIRE_TOOLS=1) when it is missing.
func Tool(t testing.TB, name, aptPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		msg := name + " is missing (apt-get install " + aptPackage + ")"
		if os.Getenv("CRONGUARD_REQUIRE_TOOLS") == "1" {
			t.Fatal(msg + "; CRONGUARD_REQUIRE_TOOLS=1")
		}
		t.Skip(msg)
	}
	return p
}

// Run runs a command and returns its stdout; it fails the test on error.
func Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr)
	}
	return string(out)
}

// Field returns one control field of a .deb (dpkg-deb -f).
func Field(t testing.TB, deb, field string) string {
	t.Helper()
	Tool(t, "dpkg-deb", "dpkg")
	return strings.TrimSpace(Run(t, "dpkg-deb", "-f", deb, field))
}

// Entry is one line of dpkg-deb -c.
type Entry struct {
	Mode  string // drwxr-xr-x
	Owner string // root/root
	Path  string // /etc/cron.d/x
}

// Contents lists a .deb's files (dpkg-deb -c), by path.
func Contents(t testing.TB, deb string) map[string]Entry {
	t.Helper()
	Tool(t, "dpkg-deb", "dpkg")
	out := map[string]Entry{}
	for _, l := range strings.Split(strings.TrimSpace(Run(t, "dpkg-deb", "-c", deb)), "\n") {
		f := strings.Fields(l)
		if len(f) < 6 {
			t.Fatalf("dpkg-deb -c: odd line %q", l)
		}
		p := strings.TrimSuffix(strings.TrimPrefix(f[5], "."), "/")
		if p == "" {
			p = "/"
		}
		out[p] = Entry{Mode: f[0], Owner: f[1], Path: p}
	}
	return out
}

// Extract installs a .deb's files into a scratch root (dpkg-deb -x) and
// returns the root.
func Extract(t testing.TB, deb string) string {
	t.Helper()
	Tool(t, "dpkg-deb", "dpkg")
	root := t.TempDir()
	Run(t, "dpkg-deb", "-x", deb, root)
	return root
}

// Lintian runs lintian on the packages and fails the test on any error
// (E:) line; warnings are logged.
func Lintian(t testing.TB, debs ...string) {
	t.Helper()
	Tool(t, "lintian", "lintian")
	args := append([]string{"--no-cfg", "--no-tag-display-limit"}, debs...)
	cmd := exec.Command("lintian", args...)
	out, err := cmd.CombinedOutput()
	var errs []string
	for _, l := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(l, "E: "):
			errs = append(errs, l)
		case strings.HasPrefix(l, "W: "), strings.HasPrefix(l, "I: "):
			t.Logf("lintian: %s", l)
		}
	}
	if len(errs) > 0 {
		t.Errorf("lintian errors:\n%s", strings.Join(errs, "\n"))
	}
	// lintian exits 2 on an error tag and 1 on its own failures; only the
	// latter is not already reported above.
	if ee, ok := err.(*exec.ExitError); ok && len(errs) == 0 && ee.ExitCode() != 2 {
		t.Errorf("lintian: %v\n%s", err, out)
	}
}

// GoTool is the go command of the toolchain running the tests.
func GoTool(t testing.TB) string {
	t.Helper()
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	p, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	return p
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// ModuleRoot is the directory of cronguard's go.mod.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	root, err := shimtest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// Build builds a package of the module (./cmd/cronguard) stripped and
// static, as `make` does, into a temporary directory, and returns the binary's path.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), filepath.Base(pkg))
	cmd := exec.Command(GoTool(t), "build", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg)
	cmd.Dir = ModuleRoot(t)
	// Static, as make builds it (the Makefile exports CGO_ENABLED=0).
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// LintianPedantic runs lintian --pedantic with info and experimental tags
// on the packages and fails the test on any E:, W:, I: or P: line: the
// package must be clean, overrides aside. It returns the overridden tags
// (O: lines).
func LintianPedantic(t testing.TB, debs ...string) []string {
	t.Helper()
	Tool(t, "lintian", "lintian")
	// --fail-on none: the output is judged here, where an overridden
	// error is no failure.
	args := append([]string{"--no-cfg", "--tag-display-limit", "0", "--fail-on", "none", "--pedantic", "--display-info", "--display-experimental", "--show-overrides"}, debs...)
	out, err := exec.Command("lintian", args...).CombinedOutput()
	var bad, overridden []string
	for _, l := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(l, "E: "), strings.HasPrefix(l, "W: "), strings.HasPrefix(l, "I: "), strings.HasPrefix(l, "P: "):
			bad = append(bad, l)
		case strings.HasPrefix(l, "O: "):
			overridden = append(overridden, l)
		case strings.HasPrefix(l, "X: "):
			t.Logf("lintian: %s", l)
		}
	}
	if len(bad) > 0 {
		t.Errorf("lintian --pedantic:\n%s", strings.Join(bad, "\n"))
	}
	if ee, ok := err.(*exec.ExitError); ok && len(bad) == 0 {
		t.Errorf("lintian: %v\n%s", ee, out)
	} else if err != nil && !ok {
		t.Errorf("lintian: %v", err)
	}
	return overridden
}
