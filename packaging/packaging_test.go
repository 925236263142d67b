package packaging

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cronguard/cronguard/packaging/debtest"
)

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"reports", "batch-2", "a0", "lib.x+y"} {
		if err := CheckName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a", "Reports", "my_jobs", "-x", "a b", "é1"} {
		if err := CheckName(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: error %v, want ErrInvalid", bad, err)
		}
	}
}

func TestVersions(t *testing.T) {
	for _, ok := range []string{"1", "1.0", "1.0-1", "2:1.0~rc1+git3", "0.20250101120000"} {
		if err := CheckVersion(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "v1", "1.0-", "a:1", "1_0", "1 0"} {
		if err := CheckVersion(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	for in, want := range map[string]string{
		"v1.2.0":                   "1.2.0",
		"v1.2.0-3-gabc1234-dirty":  "1.2.0+3+gabc1234+dirty",
		"a39549f-dirty":            "0~a39549f+dirty",
		"dev":                      "0~dev",
		"":                         "0~",
		"1.0":                      "1.0",
		"v2.0.0-rc1_weird/chars!!": "2.0.0+rc1+weird+chars++",
	} {
		got := DebianVersion(in)
		if got != want {
			t.Errorf("DebianVersion(%q) = %q, want %q", in, got, want)
		}
		if err := CheckVersion(got); err != nil && in != "" {
			t.Errorf("DebianVersion(%q) = %q is not valid: %v", in, got, err)
		}
	}
	when := time.Date(2025, 11, 24, 15, 4, 5, 0, time.UTC)
	if v := DefaultVersion(when); v != "0.20251124150405" {
		t.Errorf("DefaultVersion = %q", v)
	}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if got := BuildTime(env(map[string]string{"SOURCE_DATE_EPOCH": "1700000000"})); !got.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("BuildTime with SOURCE_DATE_EPOCH = %v", got)
	}
}

func TestDefaultMaintainer(t *testing.T) {
	for _, tc := range []struct {
		flag        string
		env         map[string]string
		want        string
		placeholder bool
	}{
		{"A <a@b.c>", map[string]string{"DEBEMAIL": "x@y.z"}, "A <a@b.c>", false},
		{"", map[string]string{"DEBEMAIL": "ops@corp.example", "DEBFULLNAME": "Ops Team"}, "Ops Team <ops@corp.example>", false},
		{"", map[string]string{"DEBEMAIL": "Ops <ops@corp.example>"}, "Ops <ops@corp.example>", false},
		{"", map[string]string{"EMAIL": "jo@corp.example"}, "jo <jo@corp.example>", false},
		{"", nil, PlaceholderMaintainer, true},
	} {
		got, ph := DefaultMaintainer(tc.flag, func(k string) string { return tc.env[k] })
		if got != tc.want || ph != tc.placeholder {
			t.Errorf("DefaultMaintainer(%q, %v) = %q, %v; want %q, %v", tc.flag, tc.env, got, ph, tc.want, tc.placeholder)
		}
	}
}

func validPackage() *Package {
	return &Package{
		Name: "reports", Version: "1.0", Arch: "all", Maintainer: "Ops Team <ops@example.com>",
		Synopsis: "cron jobs of reports", Description: "First paragraph.\n\nSecond one.",
		Date:  time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Files: []File{{Src: "x", Dst: "/etc/cron.d/reports", Mode: 0o644, Conffile: true}},
	}
}

func TestValidate(t *testing.T) {
	if err := validPackage().Validate(); err != nil {
		t.Fatal(err)
	}
	p := validPackage()
	p.Maintainer = "root"
	p.Synopsis = strings.Repeat("x", 81)
	p.Files = append(p.Files,
		File{Src: "a", Dst: "/usr/local/bin/a", Mode: 0o755},
		File{Src: "b", Dst: "/etc/cron.d/reports", Mode: 0o644, Conffile: true},
		File{Src: "c", Dst: "/etc/other", Mode: 0o644},
		File{Src: "d", Dst: "relative", Mode: 0o644},
	)
	err := p.Validate()
	want := []string{
		`packaging: invalid: reports: maintainer "root": want "Full Name <user@domain.tld>"`,
		`packaging: invalid: reports: synopsis: 81 characters, Debian wants at most 80`,
		`packaging: invalid: reports: file "/usr/local/bin/a": Debian packages must not install into /usr/local`,
		`packaging: invalid: reports: file "/etc/cron.d/reports": installed twice`,
		`packaging: invalid: reports: file "/etc/other": files in /etc must be conffiles`,
		`packaging: invalid: reports: file "relative": want an absolute, clean destination`,
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Errorf("got:\n%v\nwant:\n%s", err, strings.Join(want, "\n"))
	}
}

func TestDocs(t *testing.T) {
	p := validPackage()
	if got, want := p.LongDescription(), "cron jobs of reports\nFirst paragraph.\n\nSecond one."; got != want {
		t.Errorf("LongDescription = %q, want %q", got, want)
	}
	if p.ChangelogName() != "changelog.gz" {
		t.Errorf("native package changelog %q", p.ChangelogName())
	}
	p.Version = "1.0-2"
	if p.ChangelogName() != "changelog.Debian.gz" {
		t.Errorf("non-native package changelog %q", p.ChangelogName())
	}
	zr, err := gzip.NewReader(bytes.NewReader(p.Changelog()))
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(zr)
	want := "reports (1.0-2) unstable; urgency=medium\n\n  * Built by cronguard.\n\n -- Ops Team <ops@example.com>  Thu, 02 Jan 2025 03:04:05 +0000\n"
	if string(text) != want {
		t.Errorf("changelog:\n%s\nwant:\n%s", text, want)
	}
	if zr.Header.Name != "" || !zr.Header.ModTime.IsZero() {
		t.Errorf("gzip header carries a name or time: %+v", zr.Header)
	}
	if got := string(p.CopyrightText()); !strings.Contains(got, "Copyright 2025 Ops Team\n") {
		t.Errorf("copyright without a notice: %q", got)
	}
}

// TestCronguardDoesNotLinkNfpm: nfpm in cronguard would cost every cron
// run about 1.3 ms of init and 6 MB. Only cronguard-package may link it;
// the second case shows that the check sees it where it is.
func TestCronguardDoesNotLinkNfpm(t *testing.T) {
	goTool := debtest.GoTool(t)
	deps := func(pkg string) []string {
		cmd := exec.Command(goTool, "list", "-deps", pkg)
		cmd.Dir = debtest.ModuleRoot(t)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		return strings.Fields(string(out))
	}
	heavy := func(deps []string) []string {
		var found []string
		for _, d := range deps {
			if strings.HasPrefix(d, "github.com/goreleaser/") || strings.HasPrefix(d, "github.com/spf13/cobra/doc") ||
				strings.HasPrefix(d, "github.com/cronguard/cronguard/packaging/nfpmdeb") {
				found = append(found, d)
			}
		}
		return found
	}
	if found := heavy(deps("github.com/cronguard/cronguard/cmd/cronguard")); len(found) > 0 {
		t.Errorf("cmd/cronguard links the packager: %v", found)
	}
	// Pings go through cronguard-ping: net/http and TLS would cost every
	// run 3.3 MB and 0.36 ms (BENCHMARKS.md).
	for _, d := range deps("github.com/cronguard/cronguard/cmd/cronguard") {
		if d == "net/http" || d == "crypto/tls" {
			t.Errorf("cmd/cronguard links %s: pings belong in cmd/cronguard-ping", d)
		}
	}
	if found := heavy(deps("github.com/cronguard/cronguard/cmd/cronguard-package")); len(found) == 0 {
		t.Errorf("the check finds no nfpm in cmd/cronguard-package either: it checks nothing")
	}
}
