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

	"github.com/cronguard/cronguard/internal/shimtest"
	"github.com/cronguard/cronguard/metadata"
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
	pinger := debtest.Build(t, "./cmd/cronguard-ping")
	shim := filepath.Join(t.TempDir(), "cronguard-shim")
	if err := shimtest.Build(shim); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	readme := filepath.Join(debtest.ModuleRoot(t), "README.md")
	code := run([]string{"self", "--binary", cronguard, "--packager", packager, "--pinger", pinger, "--shim", shim, "--version", "v1.2.0-3-gabc1234", "--out", out, "--readme", readme},
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
		"/usr/bin/cronguard":                          "-rwxr-xr-x",
		"/usr/lib/cronguard/cronguard-package":        "-rwxr-xr-x",
		"/usr/lib/cronguard/cronguard-ping":           "-rwxr-xr-x",
		"/usr/lib/cronguard/cronguard-shim":           "-rwxr-xr-x",
		"/etc/cronguard/config.json.example":          "-rw-r--r--",
		"/usr/share/man/man1/cronguard.1.gz":          "-rw-r--r--",
		"/usr/share/man/man1/cronguard-run.1.gz":      "-rw-r--r--",
		"/usr/share/man/man1/cronguard-gen.1.gz":      "-rw-r--r--",
		"/usr/share/doc/cronguard/copyright":          "-rw-r--r--",
		"/usr/share/doc/cronguard/changelog.gz":       "-rw-r--r--",
		"/usr/share/man/man1/cronguard-package.1.gz":  "-rw-r--r--",
		"/usr/share/man/man5/cronguard-metadata.5.gz": "-rw-r--r--",
		bashCompletion: "-rw-r--r--",
		zshCompletion:  "-rw-r--r--",
		fishCompletion: "-rw-r--r--",
		logrotatePath:  "-rw-r--r--",
		docReadme:      "-rw-r--r--",
		docExample:     "-rw-r--r--",
	} {
		if e, ok := files[path]; !ok || e.Mode != mode || e.Owner != "root/root" {
			t.Errorf("%s: %+v, want %s root/root", path, e, mode)
		}
	}
	if c := debtest.Run(t, "dpkg-deb", "--info", deb, "conffiles"); c != "/etc/cronguard/config.json.example\n/etc/logrotate.d/cronguard\n" {
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
	checkInstalledDocs(t, root, readme)
	checkCompletions(t, root)
	// Clean under --pedantic, info tags included; every override has its
	// reason in a comment right above it.
	if o := debtest.LintianPedantic(t, deb); len(o) == 0 {
		t.Errorf("no overridden tags: the overrides file is not read")
	}
	ov, _ := os.ReadFile(filepath.Join(root, "usr/share/lintian/overrides/cronguard"))
	prevComment := false
	for _, l := range strings.Split(strings.TrimSpace(string(ov)), "\n") {
		if !strings.HasPrefix(l, "#") && !prevComment {
			t.Errorf("override %q has no comment saying why", l)
		}
		prevComment = strings.HasPrefix(l, "#") || prevComment && l != ""
	}
}

func gunzip(t *testing.T, path string) string {
	t.Helper()
	return debtest.Run(t, "zcat", path)
}

// checkInstalledDocs: the man pages are references (options, exit status,
// environment, files), cronguard-metadata(5) lists every METADATA key of
// the parser, man renders them without a warning, the README and the
// logrotate file are the ones meant.
func checkInstalledDocs(t *testing.T, root, readme string) {
	man := filepath.Join(root, "usr/share/man")
	for page, wants := range map[string][]string{
		"man1/cronguard.1.gz":          {".SH OPTIONS", ".SH EXIT STATUS", ".SH ENVIRONMENT", ".SH FILES", "CRONGUARD_ZK", "/etc/cronguard/config.json", `\fBcronguard\-metadata(5)\fP`, `/usr/lib/cronguard/cronguard\-shim`},
		"man1/cronguard-run.1.gz":      {`\fB124\fP`, `\fB125\fP`, "CRONGUARD_FENCE", "\\-\\-skip\\-code"},
		"man1/cronguard-check.1.gz":    {"CRITICAL", "UNKNOWN"},
		"man1/cronguard-gen.1.gz":      {"\\-\\-check", `cronguard\-metadata(5)`},
		"man1/cronguard-package.1.gz":  {"SOURCE_DATE_EPOCH", "DEBEMAIL"},
		"man1/cronguard-assign.1.gz":   {".SH EXIT STATUS", "Refused"},
		"man5/cronguard-metadata.5.gz": {`.TH "CRONGUARD\-METADATA" "5"`, "[ \\-x SCRIPT ] &&", ".SH SWITCHMAN'S FORM"},
	} {
		text := gunzip(t, filepath.Join(man, page))
		for _, w := range wants {
			if !strings.Contains(text, w) {
				t.Errorf("%s lacks %q", page, w)
			}
		}
	}
	meta := gunzip(t, filepath.Join(man, "man5/cronguard-metadata.5.gz"))
	for _, k := range append(append([]string(nil), metadata.Keys...), metadata.SwitchmanKeys...) {
		if !strings.Contains(meta, ".TP\n\\fB"+k+"\\fP\n") {
			t.Errorf("cronguard-metadata(5) lacks key %q", k)
		}
	}
	if _, err := exec.LookPath("man"); err == nil {
		pages, _ := filepath.Glob(filepath.Join(man, "man*/*.gz"))
		for _, p := range pages {
			cmd := exec.Command("man", "--warnings", "-l", p)
			cmd.Env = append(os.Environ(), "MANWIDTH=80", "MAN_KEEP_FORMATTING=0")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Run(); err != nil || stderr.Len() > 0 {
				t.Errorf("man %s: %v %s", filepath.Base(p), err, stderr.String())
			}
		}
	}
	want, _ := os.ReadFile(readme)
	if got := gunzip(t, filepath.Join(root, "usr/share/doc/cronguard/README.md.gz")); got != string(want) || len(want) == 0 {
		t.Errorf("installed README differs from %s", readme)
	}
	if ex, _ := os.ReadFile(filepath.Join(root, "usr/share/doc/cronguard/examples/config.json")); !bytes.Equal(ex, exampleConfig) {
		t.Errorf("doc example config %q", ex)
	}
	lr, _ := os.ReadFile(filepath.Join(root, "etc/logrotate.d/cronguard"))
	if !strings.Contains(string(lr), "\n/var/log/cronguard.log {\n") || !strings.Contains(string(exampleConfig), `"logfile": "/var/log/cronguard.log"`) {
		t.Errorf("logrotate file does not rotate the example config's logfile:\n%s", lr)
	}
	if p, err := exec.LookPath("logrotate"); err == nil {
		state := filepath.Join(t.TempDir(), "state")
		if out, err := exec.Command(p, "--debug", "--state", state, filepath.Join(root, "etc/logrotate.d/cronguard")).CombinedOutput(); err != nil || strings.Contains(string(out), "error") {
			t.Errorf("logrotate --debug: %v\n%s", err, out)
		}
	}
}

// checkCompletions: the completion files are cobra's, for cronguard, and
// the installed cronguard answers their requests (switchman's form must
// not read __complete as a job).
func checkCompletions(t *testing.T, root string) {
	read := func(p string) string {
		b, _ := os.ReadFile(filepath.Join(root, p))
		return string(b)
	}
	if z := read(zshCompletion); !strings.HasPrefix(z, "#compdef cronguard") {
		t.Errorf("zsh completion starts %.40q", z)
	}
	if f := read(fishCompletion); !strings.Contains(f, "complete -c cronguard") {
		t.Errorf("fish completion lacks complete -c cronguard")
	}
	if b := read(bashCompletion); !strings.Contains(b, "__complete") {
		t.Errorf("bash completion is not cobra's")
	}
	if bash, err := exec.LookPath("bash"); err == nil {
		out, err := exec.Command(bash, "-c", "source "+filepath.Join(root, bashCompletion)+" && complete -p cronguard").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "cronguard") {
			t.Errorf("bash: %v %s", err, out)
		}
	}
	got := debtest.Run(t, filepath.Join(root, "usr/bin/cronguard"), "__complete", "run", "--gr")
	if !strings.HasPrefix(got, "--group\t") {
		t.Errorf("cronguard __complete run --gr: %q", got)
	}
}

// TestMetadataPageFollowsKeys: a key the parser gains without manual
// text, or text for a key it lost, stops the build.
func TestMetadataPageFollowsKeys(t *testing.T) {
	if _, err := metadataPage("1.0", time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	keys := metadata.Keys
	defer func() { metadata.Keys = keys }()
	metadata.Keys = append(append([]string(nil), keys...), "retries")
	if _, err := metadataPage("1.0", time.Unix(0, 0)); err == nil || !strings.Contains(err.Error(), "retries") {
		t.Errorf("a new key without text: %v", err)
	}
	metadata.Keys = keys[1:]
	if _, err := metadataPage("1.0", time.Unix(0, 0)); err == nil || !strings.Contains(err.Error(), keys[0]) {
		t.Errorf("text for a key that is gone: %v", err)
	}
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
