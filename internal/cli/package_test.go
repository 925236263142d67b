package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cronguard/cronguard/packaging/debtest"
)

// TestPackageEndToEnd: `cronguard package` execs the real
// cronguard-package; Debian's tools check the .debs it writes.
func TestPackageEndToEnd(t *testing.T) {
	debtest.Tool(t, "dpkg-deb", "dpkg")
	packager := debtest.Build(t, "./cmd/cronguard-package")
	src := t.TempDir()
	writeScript(t, src, "report.sh", reportScript)
	writeScript(t, src, "perl/cleanup.pl", cleanupScript)
	out := t.TempDir()
	t.Setenv("SOURCE_DATE_EPOCH", "1735787045")
	code, stdout, stderr := runCronguard(t, "package", "--scripts", "--version", "1.4.2", "--maintainer", "Ops Team <ops@example.com>",
		"--out", out, "--packager", packager, src)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	debs := strings.Fields(stdout)
	want := []string{filepath.Join(out, "batch_1.4.2_all.deb"), filepath.Join(out, "reports_1.4.2_all.deb")}
	if strings.Join(debs, " ") != strings.Join(want, " ") {
		t.Fatalf("built %q, want %q (stderr %s)", debs, want, stderr)
	}
	_, genOut, _ := runCronguard(t, "gen", src)
	for i, pkg := range []string{"batch", "reports"} {
		deb := debs[i]
		for field, want := range map[string]string{
			"Package": pkg, "Version": "1.4.2", "Architecture": "all", "Depends": "cronguard",
			"Maintainer": "Ops Team <ops@example.com>",
		} {
			if got := debtest.Field(t, deb, field); got != want {
				t.Errorf("%s: %s %q, want %q", pkg, field, got, want)
			}
		}
		script := map[string]string{"batch": "cleanup.pl", "reports": "report.sh"}[pkg]
		files := debtest.Contents(t, deb)
		for path, mode := range map[string]string{
			"/etc/cron.d/" + pkg:               "-rw-r--r--",
			"/usr/libexec/cronguard/" + script: "-rwxr-xr-x",
		} {
			if e := files[path]; e.Mode != mode || e.Owner != "root/root" {
				t.Errorf("%s: %s: %q %q, want %s root/root", pkg, path, e.Mode, e.Owner, mode)
			}
		}
		root := debtest.Extract(t, deb)
		crond, err := os.ReadFile(filepath.Join(root, "etc/cron.d", pkg))
		if err != nil || !strings.Contains(genOut, string(crond)) {
			t.Errorf("%s: installed /etc/cron.d/%s is not what gen writes:\n%s", pkg, pkg, crond)
		}
		if !strings.Contains(string(crond), "-- /usr/libexec/cronguard/"+script) {
			t.Errorf("%s: cron lines do not run the installed script:\n%s", pkg, crond)
		}
	}
	debtest.Lintian(t, debs...)
}

func TestPackageRefuses(t *testing.T) {
	src := t.TempDir()
	writeScript(t, src, "a.sh", "# <crontab>\n#   package: Reports_A\n#   time: @daily\n# </crontab>\n")
	writeScript(t, src, "b.sh", "# <crontab>\n#   package: ok\n#   time: @daily\n# </crontab>\n"+
		"# <crontab>\n#   package: other\n#   time: @daily\n# </crontab>\n")
	out := t.TempDir()
	code, _, stderr := runCronguard(t, "package", "--scripts", "--version", "v1", "--out", out, "--packager", "/nonexistent", src)
	want := "--version: version \"v1\": Debian wants [epoch:]upstream[-revision], upstream starting with a digit, letters, digits and . + ~ - only\n" +
		src + "/a.sh:1: package name \"Reports_A\": Debian wants lowercase letters, digits, '+', '-', '.', at least 2 characters, starting with a letter or digit (a valid cron.d name, but not a Debian package name)\n" +
		src + "/b.sh: with --scripts it would be installed by both ok and other; keep its blocks in one package\n" +
		"cronguard: 3 problem(s): no package built\n"
	if code != 1 || stderr != want {
		t.Errorf("exit %d, stderr:\n%s\nwant:\n%s", code, stderr, want)
	}
	if ents, _ := os.ReadDir(out); len(ents) > 0 {
		t.Errorf("out holds %v", ents)
	}
}

func TestPackagerNotFound(t *testing.T) {
	src := t.TempDir()
	writeScript(t, src, "a.sh", "# <crontab>\n#   package: jobs\n#   time: @daily\n# </crontab>\n")
	t.Setenv("PATH", t.TempDir())
	code, _, stderr := runCronguard(t, "package", "--maintainer", "A B <a@example.com>", "--out", t.TempDir(), src)
	if code != ExitOwnFailure || !strings.Contains(stderr, "cronguard-package not found next to cronguard, in /usr/lib/cronguard or in PATH") {
		t.Errorf("exit %d, %q", code, stderr)
	}
}
