package nfpmdeb

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cronguard/cronguard/packaging"
	"github.com/cronguard/cronguard/packaging/debtest"
)

const crond = "SHELL=/bin/sh\n@daily root cronguard run --group reports --lock a.sh -- /usr/libexec/cronguard/a.sh\n"

func testPackage(t *testing.T) *packaging.Package {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "reports"), []byte(crond), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a.sh"), []byte("#!/bin/sh\necho hi\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	return &packaging.Package{
		Name: "reports", Version: "1.2~rc1", Arch: "all", Maintainer: "Ops Team <ops@example.com>",
		Synopsis:    "cron jobs of reports, run by cronguard",
		Description: "Installs /etc/cron.d/reports.\n\nA second paragraph.",
		Depends:     []string{"cronguard"},
		Date:        time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Files: []packaging.File{
			{Src: filepath.Join(dir, "reports"), Dst: "/etc/cron.d/reports", Mode: 0o644, Conffile: true},
			{Src: filepath.Join(dir, "a.sh"), Dst: "/usr/libexec/cronguard/a.sh", Mode: 0o755},
		},
	}
}

// TestBuild checks the .deb with Debian's own tools: fields, contents,
// modes and owners, the extracted file, and lintian.
func TestBuild(t *testing.T) {
	p := testPackage(t)
	out := t.TempDir()
	deb, err := Build(p, out)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(deb) != "reports_1.2~rc1_all.deb" {
		t.Errorf("file name %s", deb)
	}
	for field, want := range map[string]string{
		"Package": "reports", "Version": "1.2~rc1", "Architecture": "all", "Depends": "cronguard",
		"Maintainer": "Ops Team <ops@example.com>", "Section": "admin", "Priority": "optional",
		"Description": "cron jobs of reports, run by cronguard\n Installs /etc/cron.d/reports.\n .\n A second paragraph.",
	} {
		if got := debtest.Field(t, deb, field); got != want {
			t.Errorf("%s: %q, want %q", field, got, want)
		}
	}
	files := debtest.Contents(t, deb)
	for path, mode := range map[string]string{
		"/etc/cron.d/reports":                 "-rw-r--r--",
		"/usr/libexec/cronguard/a.sh":         "-rwxr-xr-x",
		"/usr/share/doc/reports/copyright":    "-rw-r--r--",
		"/usr/share/doc/reports/changelog.gz": "-rw-r--r--",
		"/etc/cron.d":                         "drwxr-xr-x",
		"/usr/share/doc/reports":              "drwxr-xr-x",
		"/usr/libexec/cronguard":              "drwxr-xr-x",
	} {
		e, ok := files[path]
		if !ok {
			t.Errorf("%s missing; contents %v", path, files)
			continue
		}
		if e.Mode != mode || e.Owner != "root/root" {
			t.Errorf("%s: %s %s, want %s root/root", path, e.Mode, e.Owner, mode)
		}
	}
	conffiles := debtest.Run(t, "dpkg-deb", "--info", deb, "conffiles")
	if conffiles != "/etc/cron.d/reports\n" {
		t.Errorf("conffiles %q", conffiles)
	}
	root := debtest.Extract(t, deb)
	got, err := os.ReadFile(filepath.Join(root, "etc/cron.d/reports"))
	if err != nil || string(got) != crond {
		t.Errorf("extracted /etc/cron.d/reports: %q, %v", got, err)
	}
	debtest.Lintian(t, deb)

	// Same package, same date: the same bytes.
	again, err := Build(p, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(deb)
	b, _ := os.ReadFile(again)
	if !bytes.Equal(a, b) {
		t.Errorf("two builds of the same package differ")
	}
}

func TestBuildRefuses(t *testing.T) {
	p := testPackage(t)
	p.Name = "My_Jobs"
	out := t.TempDir()
	if _, err := Build(p, out); !errors.Is(err, packaging.ErrInvalid) {
		t.Errorf("error %v, want packaging.ErrInvalid", err)
	}
	p = testPackage(t)
	p.Files[1].Src = filepath.Join(t.TempDir(), "missing")
	if _, err := Build(p, out); !errors.Is(err, ErrBuild) {
		t.Errorf("error %v, want ErrBuild", err)
	}
	if left, _ := os.ReadDir(out); len(left) > 0 {
		t.Errorf("a refused build left %v", left)
	}
}
