package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/cronguard/cronguard/metadata"
	"github.com/cronguard/cronguard/packaging/debtest"
)

const rebootScript = `#!/bin/sh
# <crontab>
#   package: batch
#   time: @reboot
# </crontab>
# <crontab>
#   package: batch
#   time: 0 9 1 * mon
#   persistent: yes
# </crontab>
echo boot
`

// TestGenSystemd: gen --systemd writes what GenerateSystemd renders, a
// note for the @reboot entry, cron lines that step aside on systemd
// hosts; --check compares the units; a unit gen did not write is never
// overwritten.
func TestGenSystemd(t *testing.T) {
	src := t.TempDir()
	writeScript(t, src, "report.sh", reportScript)
	writeScript(t, src, "boot.sh", rebootScript)
	units := filepath.Join(t.TempDir(), "system")
	crond := filepath.Join(t.TempDir(), "cron.d")
	code, stdout, stderr := runCronguard(t, "gen", "--systemd", units, "--out", crond, src)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if want := "note: " + filepath.Join(src, "boot.sh") + ":2: no systemd timer (@reboot"; !strings.HasPrefix(stderr, want) {
		t.Errorf("stderr %q, want a note starting %q", stderr, want)
	}
	entries, err := metadata.Collect([]string{src})
	if err != nil {
		t.Fatal(err)
	}
	timers, _, err := metadata.GenerateSystemd(entries, metadata.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(timers) != 3 {
		t.Fatalf("%d timers, want 3 (two report shards, the monthly/monday boot.sh)", len(timers))
	}
	for _, tm := range timers {
		for _, u := range []metadata.Unit{tm.Timer, tm.Service} {
			data, err := os.ReadFile(filepath.Join(units, u.Name))
			if err != nil || string(data) != string(u.Data) {
				t.Errorf("%s: %v\n%s", u.Name, err, data)
			}
			if !strings.Contains(stdout, "wrote "+filepath.Join(units, u.Name)+"\n") {
				t.Errorf("stdout does not name %s:\n%s", u.Name, stdout)
			}
		}
	}
	timer, _ := os.ReadFile(filepath.Join(units, "batch-boot.sh.timer"))
	if !strings.Contains(string(timer), "OnCalendar=*-*-01 09:00:00\nOnCalendar=Mon *-*-* 09:00:00\n") || !strings.Contains(string(timer), "Persistent=true\n") {
		t.Errorf("batch-boot.sh.timer:\n%s", timer)
	}
	batch, _ := os.ReadFile(filepath.Join(crond, "batch"))
	for _, want := range []string{
		"@reboot root [ -x /usr/libexec/cronguard/boot.sh ] && cronguard run --group batch --lock boot.sh -- ",
		"0 9 1 * mon root [ -d /run/systemd/system ] || { [ -x /usr/libexec/cronguard/",
	} {
		if !strings.Contains(string(batch), want) {
			t.Errorf("cron.d/batch lacks %q:\n%s", want, batch)
		}
	}
	if code, out, stderr := runCronguard(t, "gen", "--check", "--systemd", units, "--out", crond, src); code != 0 {
		t.Errorf("--check after gen: exit %d\n%s%s", code, out, stderr)
	}
	name := filepath.Join(units, "batch-boot.sh.service")
	os.WriteFile(name, []byte(metadata.Header+" edited\n"), 0o644)
	if code, out, _ := runCronguard(t, "gen", "--check", "--systemd", units, src); code != 1 || !strings.Contains(out, "+ExecStart=/usr/bin/cronguard run --group batch --lock boot.sh") {
		t.Errorf("--check with an edited unit: exit %d\n%s", code, out)
	}
	os.WriteFile(name, []byte("[Service]\nExecStart=/bin/true\n"), 0o644)
	code, _, stderr = runCronguard(t, "gen", "--systemd", units, src)
	if data, _ := os.ReadFile(name); code != 1 || !strings.Contains(stderr, name+": exists and was not written by cronguard gen") || string(data) != "[Service]\nExecStart=/bin/true\n" {
		t.Errorf("foreign unit: exit %d, stderr %q, file %q", code, stderr, data)
	}
}

// TestPackageSystemd: package --systemd installs the units in
// /lib/systemd/system, with debhelper's maintainer scripts that enable and
// start the timers on install and stop them on removal; lintian no longer
// asks for a timer.
func TestPackageSystemd(t *testing.T) {
	debtest.Tool(t, "dpkg-deb", "dpkg")
	packager := debtest.Build(t, "./cmd/cronguard-package")
	src := t.TempDir()
	writeScript(t, src, "report.sh", reportScript)
	out := t.TempDir()
	t.Setenv("SOURCE_DATE_EPOCH", "1735787045")
	code, stdout, stderr := runCronguard(t, "package", "--systemd", "--scripts", "--version", "1.0", "--maintainer", "Ops Team <ops@example.com>",
		"--out", out, "--packager", packager, src)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	deb := strings.TrimSpace(stdout)
	if got := debtest.Field(t, deb, "Depends"); got != "cronguard, init-system-helpers (>= 1.54~)" {
		t.Errorf("Depends %q", got)
	}
	files := debtest.Contents(t, deb)
	var timers []string
	for p, e := range files {
		if strings.HasPrefix(p, "/lib/systemd/system/") {
			if e.Mode != "-rw-r--r--" || e.Owner != "root/root" {
				t.Errorf("%s: %s %s", p, e.Mode, e.Owner)
			}
			if strings.HasSuffix(p, ".timer") {
				timers = append(timers, filepath.Base(p))
			}
		}
	}
	sort.Strings(timers)
	if len(timers) != 2 {
		t.Fatalf("timers in the .deb: %v, want 2", timers)
	}
	for _, tm := range timers {
		if _, ok := files["/lib/systemd/system/"+strings.TrimSuffix(tm, ".timer")+".service"]; !ok {
			t.Errorf("%s has no service in the .deb", tm)
		}
	}
	crond, _ := os.ReadFile(filepath.Join(debtest.Extract(t, deb), "etc/cron.d/reports"))
	if !strings.Contains(string(crond), "[ -d /run/systemd/system ] || {") {
		t.Errorf("cron.d lines do not step aside for the timers:\n%s", crond)
	}
	ctl := t.TempDir()
	debtest.Run(t, "dpkg-deb", "-e", deb, ctl)
	for script, wants := range map[string][]string{
		"postinst": {"deb-systemd-helper enable \"$unit\"", "deb-systemd-invoke $_dh_action '" + timers[0] + "' '" + timers[1] + "'"},
		"prerm":    {"deb-systemd-invoke stop '" + timers[0] + "' '" + timers[1] + "'"},
		"postrm":   {"deb-systemd-helper purge '" + timers[0] + "'", "deb-systemd-helper mask '" + timers[0]},
	} {
		data, err := os.ReadFile(filepath.Join(ctl, script))
		if err != nil {
			t.Errorf("%s: %v", script, err)
			continue
		}
		for _, w := range wants {
			if !strings.Contains(string(data), w) {
				t.Errorf("%s lacks %q:\n%s", script, w, data)
			}
		}
		if sh, err := exec.LookPath("sh"); err == nil {
			debtest.Run(t, sh, "-n", filepath.Join(ctl, script))
		}
	}
	debtest.Lintian(t, deb)
	if lintian, err := exec.LookPath("lintian"); err == nil {
		out, _ := exec.Command(lintian, "--no-cfg", "-L", ">=pedantic", "--no-tag-display-limit", deb).CombinedOutput()
		t.Logf("lintian:\n%s", out)
		for _, tag := range []string{"missing-systemd-timer-for-cron-script", "maintainer-script", "systemd"} {
			if strings.Contains(string(out), tag) {
				t.Errorf("lintian tags %q:\n%s", tag, out)
			}
		}
	}
}
