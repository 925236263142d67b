package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cronguard/cronguard/packaging"
	"github.com/cronguard/cronguard/packaging/debtest"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// TestSelfDeb builds cronguard's own .deb as `make deb` does, from
// stripped builds of both binaries, and checks it with Debian's tools.
func TestSelfDeb(t *testing.T) {
	debtest.Tool(t, "dpkg-deb", "dpkg")
	cronguard := debtest.Build(t, "./cmd/cronguard")
	packager := debtest.Build(t, "./cmd/cronguard-package")
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run([]string{"self", "--binary", cronguard, "--packager", packager, "--version", "v1.2.0-3-gabc1234", "--out", out},
		&stdout, &stderr, env(map[string]string{"DEBEMAIL": "cronguard@example.com", "DEBFULLNAME": "cronguard developers", "SOURCE_DATE_EPOCH": "1735787045"}))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	deb := strings.TrimSpace(stdout.String())
	if want := "cronguard_1.2.0+3+gabc1234_" + debtest.Field(t, deb, "Architecture") + ".deb"; filepath.Base(deb) != want {
		t.Errorf("built %q, want %s", deb, want)
	}
	if got := debtest.Field(t, deb, "Version"); got != "1.2.0+3+gabc1234" {
		t.Errorf("Version %q", got)
	}
	if got := debtest.Field(t, deb, "Maintainer"); got != "cronguard developers <cronguard@example.com>" {
		t.Errorf("Maintainer %q", got)
	}
	if libs, _ := exec.Command("ldd", cronguard).Output(); strings.Contains(string(libs), "libc.so") {
		if got := debtest.Field(t, deb, "Depends"); got != "libc6" {
			t.Errorf("a dynamic cronguard, Depends %q, want libc6", got)
		}
	}
	files := debtest.Contents(t, deb)
	for path, mode := range map[string]string{
		"/usr/bin/cronguard":                         "-rwxr-xr-x",
		"/usr/lib/cronguard/cronguard-package":       "-rwxr-xr-x",
		"/etc/cronguard/config.json.example":         "-rw-r--r--",
		"/usr/share/man/man1/cronguard.1.gz":         "-rw-r--r--",
		"/usr/share/man/man1/cronguard-run.1.gz":     "-rw-r--r--",
		"/usr/share/man/man1/cronguard-gen.1.gz":     "-rw-r--r--",
		"/usr/share/doc/cronguard/copyright":         "-rw-r--r--",
		"/usr/share/doc/cronguard/changelog.gz":      "-rw-r--r--",
		"/usr/share/man/man1/cronguard-package.1.gz": "-rw-r--r--",
	} {
		if e, ok := files[path]; !ok || e.Mode != mode || e.Owner != "root/root" {
			t.Errorf("%s: %+v, want %s root/root", path, e, mode)
		}
	}
	if c := debtest.Run(t, "dpkg-deb", "--info", deb, "conffiles"); c != "/etc/cronguard/config.json.example\n" {
		t.Errorf("conffiles %q", c)
	}
	// Installed into a scratch root, the binary runs and the example
	// config is the one shipped.
	root := debtest.Extract(t, deb)
	if v := debtest.Run(t, filepath.Join(root, "usr/bin/cronguard"), "version"); !strings.HasPrefix(v, "cronguard ") {
		t.Errorf("installed cronguard version: %q", v)
	}
	if ex, _ := os.ReadFile(filepath.Join(root, "etc/cronguard/config.json.example")); !bytes.Equal(ex, exampleConfig) {
		t.Errorf("example config %q", ex)
	}
	var cfg map[string]any
	if err := json.Unmarshal(exampleConfig, &cfg); err != nil || cfg["zkhosts"] == nil {
		t.Errorf("example config is not the JSON config: %v", err)
	}
	debtest.Lintian(t, deb)
}

// TestBuildSpec: the protocol `cronguard package` speaks; a spec with any
// invalid package builds nothing.
func TestBuildSpec(t *testing.T) {
	dir := t.TempDir()
	crond := filepath.Join(dir, "jobs")
	if err := os.WriteFile(crond, []byte("@daily root cronguard run -- /bin/true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pkg := func(name string) packaging.Package {
		return packaging.Package{Name: name, Version: "1.0", Arch: "all", Maintainer: "Ops <ops@example.com>",
			Synopsis: "jobs", Depends: []string{"cronguard"}, Date: time.Unix(1735787045, 0).UTC(),
			Files: []packaging.File{{Src: crond, Dst: "/etc/cron.d/" + name, Mode: 0o644, Conffile: true}}}
	}
	write := func(s packaging.Spec) string {
		data, _ := json.Marshal(s)
		p := filepath.Join(t.TempDir(), "spec.json")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := run([]string{"build", "--out", out, write(packaging.Spec{Packages: []packaging.Package{pkg("jobs"), pkg("more-jobs")}})}, &stdout, &stderr, env(nil)); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if got := strings.Fields(stdout.String()); len(got) != 2 || filepath.Base(got[1]) != "more-jobs_1.0_all.deb" {
		t.Errorf("built %q", got)
	}
	bad := pkg("Bad_Name")
	out2 := t.TempDir()
	stderr.Reset()
	if code := run([]string{"build", "--out", out2, write(packaging.Spec{Packages: []packaging.Package{pkg("jobs"), bad}})}, &stdout, &stderr, env(nil)); code != 1 ||
		!strings.Contains(stderr.String(), `package name "Bad_Name"`) {
		t.Errorf("exit %d: %s", code, stderr.String())
	}
	if ents, _ := os.ReadDir(out2); len(ents) > 0 {
		t.Errorf("a refused spec built %v", ents)
	}
}
