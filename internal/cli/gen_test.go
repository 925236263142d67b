package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cronguard/cronguard/metadata"
)

// runCronguard runs cronguard's command line in-process and returns the
// exit code Main would give, stdout and stderr.
func runCronguard(t testing.TB, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	root := newRootCmd(&stdout, &stderr)
	root.SetArgs(args)
	code := mapError(root.Execute(), &stderr)
	return code, stdout.String(), stderr.String()
}

func writeScript(t testing.TB, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

const reportScript = `#!/bin/sh
# <crontab>
#   package: reports
#   time: */5 * * * *
#   params: --rem 0
# </crontab>
# <crontab>
#   package: reports
#   time: */5 * * * *
#   params: --rem 1
# </crontab>
echo report
`

const cleanupScript = `#!/usr/bin/perl
print "cleanup\n";
__END__

=head1 METADATA

<crontab>
    package: batch
    time: 17 3 * * *
    params: --days 30
    timeout: 1h
</crontab>

=cut
`

func TestGenOutAndCheck(t *testing.T) {
	src := t.TempDir()
	writeScript(t, src, "report.sh", reportScript)
	writeScript(t, src, "perl/cleanup.pl", cleanupScript)
	out := filepath.Join(t.TempDir(), "cron.d")

	code, stdout, stderr := runCronguard(t, "gen", "--out", out, src)
	if code != 0 {
		t.Fatalf("gen: exit %d, %s", code, stderr)
	}
	if !strings.Contains(stdout, "wrote "+filepath.Join(out, "reports")+" (2 entries)") {
		t.Errorf("stdout %q", stdout)
	}
	entries, err := metadata.Collect([]string{src})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := metadata.Generate(entries, metadata.Options{})
	for _, f := range want {
		p := filepath.Join(out, f.Package)
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, f.Data) {
			t.Errorf("%s: %q, %v; want %q", p, got, err, f.Data)
		}
		if st, _ := os.Stat(p); st == nil || st.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v, want 0644", p, st.Mode())
		}
		if !bytes.HasSuffix(got, []byte("*\n")) && !bytes.HasSuffix(got, []byte("\n")) {
			t.Errorf("%s: no trailing newline", p)
		}
	}
	if ents, _ := os.ReadDir(out); len(ents) != 2 {
		t.Errorf("out holds %v, want the two files and no temporary", ents)
	}
	reports, _ := os.ReadFile(filepath.Join(out, "reports"))
	if !strings.Contains(string(reports), "*/5 * * * * root [ -x /usr/libexec/cronguard/report.sh ] && cronguard run --group reports --lock report.sh-") {
		t.Errorf("reports:\n%s", reports)
	}

	// Same input: the same bytes, nothing rewritten, and --check agrees.
	before, _ := os.Stat(filepath.Join(out, "reports"))
	time.Sleep(10 * time.Millisecond)
	if code, stdout, _ := runCronguard(t, "gen", "--out", out, src); code != 0 || !strings.Contains(stdout, "unchanged") {
		t.Errorf("second gen: exit %d, %q", code, stdout)
	}
	if after, _ := os.Stat(filepath.Join(out, "reports")); !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("an unchanged file was rewritten")
	}
	if code, stdout, stderr := runCronguard(t, "gen", "--check", "--out", out, src); code != 0 || stdout != "" {
		t.Errorf("check of fresh files: exit %d, %q %q", code, stdout, stderr)
	}

	// A changed script: --check exits 1 with a diff and writes nothing.
	writeScript(t, src, "report.sh", strings.ReplaceAll(reportScript, "*/5", "*/10"))
	code, stdout, stderr = runCronguard(t, "gen", "--check", "--out", out, src)
	if code != 1 || !strings.Contains(stdout, "-*/5 * * * * root") || !strings.Contains(stdout, "+*/10 * * * * root") {
		t.Errorf("check of stale files: exit %d\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "1 of 2 cron.d files in "+out+" differ") {
		t.Errorf("stderr %q", stderr)
	}
	if now, _ := os.ReadFile(filepath.Join(out, "reports")); !bytes.Equal(now, reports) {
		t.Errorf("--check wrote")
	}
	// A file missing on disk differs too.
	os.Remove(filepath.Join(out, "batch"))
	if code, _, _ := runCronguard(t, "gen", "--check", "--out", out, filepath.Join(src, "perl")); code != 1 {
		t.Errorf("check with a missing file: exit %d", code)
	}
}

func TestGenDebianAndStdout(t *testing.T) {
	src := t.TempDir()
	writeScript(t, src, "report.sh", reportScript)
	deb := t.TempDir()
	if code, _, stderr := runCronguard(t, "gen", "--debian", deb, "--install-dir", "/opt/jobs", src); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	data, err := os.ReadFile(filepath.Join(deb, "reports.cron.d"))
	if err != nil || !strings.Contains(string(data), "-- /opt/jobs/report.sh --rem 0\n") {
		t.Errorf("reports.cron.d: %q, %v", data, err)
	}
	code, stdout, _ := runCronguard(t, "gen", "--install-dir", "/opt/jobs", src)
	if code != 0 || stdout != string(data) {
		t.Errorf("stdout: exit %d, %q; want the file", code, stdout)
	}
	if code, _, stderr := runCronguard(t, "gen", "--install-dir", "opt/jobs", src); code != 1 ||
		stderr != "cronguard: --install-dir: install dir \"opt/jobs\": want an absolute path\n" {
		t.Errorf("relative --install-dir: exit %d, %q", code, stderr)
	}
	if code, _, _ := runCronguard(t, "gen", "--out", deb, "--debian", deb, src); code == 0 {
		t.Errorf("--out with --debian: exit 0")
	}
	if code, _, stderr := runCronguard(t, "gen", "--check", src); code != ExitOwnFailure || !strings.Contains(stderr, "--check needs --out or --debian") {
		t.Errorf("--check alone: exit %d, %q", code, stderr)
	}
}

// TestGenRefusesAndWritesNothing: every problem of every file is printed
// as file:line, and no file is written or changed.
func TestGenRefusesAndWritesNothing(t *testing.T) {
	src := t.TempDir()
	writeScript(t, src, "report.sh", reportScript)
	bad := writeScript(t, src, "bad.sh", "#!/bin/sh\n# <crontab>\n#   package: a.b\n#   time: 99 * * * *\n# </crontab>\n")
	bad2 := writeScript(t, src, "worse.py", "# <crontab>\n#   package: x\n")
	out := t.TempDir()
	old := filepath.Join(out, "reports")
	if err := os.WriteFile(old, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCronguard(t, "gen", "--out", out, src)
	want := bad + `:3: package: "a.b": cron ignores /etc/cron.d files whose names have characters other than A-Z a-z 0-9 _ -` + "\n" +
		bad + `:4: time: "99 * * * *": minute "99": 99 is out of range 0-59` + "\n" +
		bad2 + ":1: unterminated block: <crontab> has no </crontab>\n" +
		"cronguard: 3 problem(s) in METADATA: nothing written\n"
	if code != 1 || stdout != "" || stderr != want {
		t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant:\n%s", code, stdout, stderr, want)
	}
	if data, _ := os.ReadFile(old); string(data) != "old\n" {
		t.Errorf("reports was changed to %q", data)
	}
	if ents, _ := os.ReadDir(out); len(ents) != 1 {
		t.Errorf("out holds %v", ents)
	}
	// A file gen did not write is never overwritten, and then nothing is.
	os.Remove(bad)
	os.Remove(bad2)
	writeScript(t, src, "sys.sh", "# <crontab>\n#   package: e2scrub_all\n#   time: @daily\n# </crontab>\n")
	foreign := filepath.Join(out, "e2scrub_all")
	if err := os.WriteFile(foreign, []byte("30 3 * * 0 root test -e /run/systemd/system || e2scrub_all\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(old)
	code, _, stderr = runCronguard(t, "gen", "--out", out, src)
	if code != 1 || stderr != foreign+": exists and was not written by cronguard gen; move it away or rename package \"e2scrub_all\"\n"+
		"cronguard: 1 file(s) not written by cronguard gen in the way: nothing written\n" {
		t.Errorf("foreign file: exit %d, %q", code, stderr)
	}
	if ents, _ := os.ReadDir(out); len(ents) != 1 {
		t.Errorf("out holds %v, want only the foreign file", ents)
	}
	empty := t.TempDir()
	writeScript(t, empty, "plain.sh", "#!/bin/sh\necho hi\n")
	if code, _, stderr := runCronguard(t, "gen", empty); code != 1 || !strings.Contains(stderr, "no METADATA blocks found") {
		t.Errorf("no blocks: exit %d, %q", code, stderr)
	}
}

// makeScripts writes n scripts spread over 20 packages, a quarter of them
// with two entries, each with some lines of code around its header.
func makeScripts(t testing.TB, n int) string {
	t.Helper()
	dir := t.TempDir()
	code := strings.Repeat("do_something --with arguments  # and a comment\n", 40)
	for i := range n {
		var b strings.Builder
		fmt.Fprintf(&b, "#!/bin/sh\n# job %d\n#\n# <crontab>\n#   package: pkg%02d\n#   time: %d * * * *\n#   params: --shard %d --name 'job %d'\n#   timeout: 10m\n# </crontab>\n", i, i%20, i%60, i, i)
		if i%4 == 0 {
			fmt.Fprintf(&b, "# <crontab>\n#   package: pkg%02d\n#   time: @daily\n#   params: --full\n# </crontab>\n", i%20)
		}
		b.WriteString(code)
		p := filepath.Join(dir, fmt.Sprintf("d%d", i%10), fmt.Sprintf("job%04d.sh", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(b.String()), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// BenchmarkGen2000 is `cronguard gen --out DIR` over 2,000 scripts: read,
// parse, validate, render and write 20 files.
func BenchmarkGen2000(b *testing.B) {
	src := makeScripts(b, 2000)
	out := b.TempDir()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// A fresh directory each time, so that every file is written.
		dir := filepath.Join(out, fmt.Sprint(i))
		if code, _, stderr := runCronguard(b, "gen", "--out", dir, src); code != 0 {
			b.Fatalf("exit %d: %s", code, stderr)
		}
	}
}

// TestGen2000Scripts: the contract wants gen over 2,000 scripts under a
// second; this bound is gross (5 s, for a loaded CI machine), to catch a quadratic
// slip, not to measure: BenchmarkGen2000 measures.
func TestGen2000Scripts(t *testing.T) {
	src := makeScripts(t, 2000)
	out := t.TempDir()
	start := time.Now()
	code, stdout, stderr := runCronguard(t, "gen", "--out", out, src)
	elapsed := time.Since(start)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if n := strings.Count(stdout, "wrote "); n != 20 {
		t.Errorf("%d files written, want 20", n)
	}
	data, _ := os.ReadFile(filepath.Join(out, "pkg00"))
	if n := strings.Count(string(data), " cronguard run "); n != 200 {
		t.Errorf("pkg00 has %d entries, want 200 (100 scripts, two each)", n)
	}
	t.Logf("gen over 2000 scripts: %v", elapsed)
	if elapsed > 5*time.Second {
		t.Errorf("gen over 2000 scripts took %v; the contract wants under 1 s", elapsed)
	}
}

// TestGenRefusesControlCharsInFileName: a script whose name holds a newline
// would put a line of its own choosing into the cron.d file.
func TestGenRefusesControlCharsInFileName(t *testing.T) {
	const body = "#!/bin/sh\n# <crontab>\n#   package: p\n#   time: @daily\n#   lock: fixed\n# </crontab>\n"
	for _, name := range []string{
		"ok\n* * * * * root touch PWNED\n.sh",
		"ok\r.sh",
		"ok\x1b[2J.sh",
		"ok\x7f.sh",
	} {
		t.Run(fmt.Sprintf("%q", name), func(t *testing.T) {
			src := t.TempDir()
			p := writeScript(t, src, name, body)
			out := filepath.Join(t.TempDir(), "cron.d")
			for _, arg := range []string{src, p} { // walked, and named
				code, stdout, stderr := runCronguard(t, "gen", "--out", out, arg)
				if code != ExitRefused {
					t.Fatalf("gen %q: exit %d, want %d; stdout %q stderr %q", arg, code, ExitRefused, stdout, stderr)
				}
				want := fmt.Sprintf("%q: file name contains a control character", p)
				if lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[0], want) {
					t.Errorf("stderr %q, want a line starting %q", stderr, want)
				}
				if _, err := os.Stat(out); err == nil {
					t.Errorf("gen wrote %s", out)
				}
			}
			// Printing to stdout is refused the same way.
			if code, stdout, _ := runCronguard(t, "gen", src); code != ExitRefused || strings.Contains(stdout, "PWNED") {
				t.Errorf("gen to stdout: exit %d, stdout %q", code, stdout)
			}
		})
	}
}

// TestGenRefusesWhatCronRefuses: schedules Debian's cron would refuse (and
// with them the whole line) are not written out.
func TestGenRefusesWhatCronRefuses(t *testing.T) {
	for spec, want := range map[string]string{
		"1,,2 * * * *":    `minute "1,,2": empty item in the list`,
		"0,30, * * * *":   `minute "0,30,": empty item in the list`,
		"0 0 * * ,mon":    `day-of-week ",mon": empty item in the list`,
		"*/0 * * * *":     `minute "*/0": step 0: want 1 or more`,
		"5-1 * * * *":     `minute "5-1": range 5-1 runs backwards`,
		"0 0 * * mon-sun": `day-of-week "mon-sun": range 1-0 runs backwards`,
	} {
		src := t.TempDir()
		writeScript(t, src, "job.sh", "#!/bin/sh\n# <crontab>\n#   package: p\n#   time: "+spec+"\n# </crontab>\n")
		out := filepath.Join(t.TempDir(), "cron.d")
		code, stdout, stderr := runCronguard(t, "gen", "--out", out, src)
		if code != ExitRefused || !strings.Contains(stderr, "job.sh:4: time: \""+spec+"\": "+want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", spec, code, stdout, stderr)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%q: gen wrote %s", spec, out)
		}
	}
}

// TestGenSwitchmanTree: gen reads a switchman-era tree with --lease-map
// (the golden tree of package metadata), and without the map refuses with
// each unmapped lease at file:line and the flag to add, writing nothing.
func TestGenSwitchmanTree(t *testing.T) {
	const tree = "../../metadata/testdata/switchman"
	out := filepath.Join(t.TempDir(), "cron.d")
	code, stdout, stderr := runCronguard(t, "gen", "--out", out, tree)
	want := tree + `/perl/nightly-export.pl:24: lease "mem" has no resource: run gen with --lease-map mem=RES:TOTAL` + "\n" +
		tree + `/perl/nightly-export.pl:36: lease "mem" has no resource: run gen with --lease-map mem=RES:TOTAL` + "\n" +
		tree + `/perl/nightly-export.pl:37: lease "cpu" has no resource: run gen with --lease-map cpu=RES:TOTAL` + "\n" +
		tree + `/vacuum.py:11: lease "mem" has no resource: run gen with --lease-map mem=RES:TOTAL` + "\n" +
		"cronguard: 4 problem(s) in METADATA: nothing written\n"
	if code != ExitRefused || stdout != "" || stderr != want {
		t.Errorf("gen without --lease-map: exit %d, stdout %q, stderr:\n%s\nwant:\n%s", code, stdout, stderr, want)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("%s was created", out)
	}

	code, stdout, stderr = runCronguard(t, "gen", "--out", out,
		"--lease-map", "mem=FQDN_mem:MEMMB", "--lease-map", "cpu=FQDN_cpu:CPU", tree)
	if code != 0 {
		t.Fatalf("gen: exit %d, %s", code, stderr)
	}
	for _, pkg := range []string{"housekeeping", "nightly-scripts"} {
		got, err := os.ReadFile(filepath.Join(out, pkg))
		if err != nil {
			t.Fatal(err)
		}
		golden, err := os.ReadFile("../../metadata/testdata/golden/switchman/" + pkg + ".cron.d")
		if err != nil {
			t.Fatal(err)
		}
		// The golden files name the sources as metadata's tests do.
		wantData := strings.ReplaceAll(string(golden), "testdata/switchman", tree)
		if string(got) != wantData {
			t.Errorf("%s:\n%s\nwant:\n%s", pkg, got, wantData)
		}
	}
	if !strings.Contains(stdout, "wrote "+filepath.Join(out, "nightly-scripts")+" (3 entries)") {
		t.Errorf("stdout %q", stdout)
	}

	// A bad --lease-map is refused before anything is read.
	code, _, stderr = runCronguard(t, "gen", "--lease-map", "mem=FQDN_mem", tree)
	if code != ExitRefused || stderr != "cronguard: --lease-map \"mem=FQDN_mem\": want NAME=RES:TOTAL (e.g. mem=FQDN_mem:MEMMB)\n" {
		t.Errorf("bad --lease-map: exit %d, %q", code, stderr)
	}
}
