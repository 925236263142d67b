package metadata

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cronguard/cronguard/packaging/debtest"
	"github.com/cronguard/cronguard/schedule"
)

// TestSystemdGolden: the units of the golden scripts, the notes of the
// entries left to cron, and the cron.d files generated beside timers.
func TestSystemdGolden(t *testing.T) {
	entries, err := Collect([]string{"testdata/scripts", "testdata/systemd"})
	if err != nil {
		t.Fatal(err)
	}
	timers, notes, err := GenerateSystemd(entries, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tm := range timers {
		for _, u := range []Unit{tm.Timer, tm.Service} {
			names = append(names, u.Name)
			golden(t, "systemd/"+u.Name, u.Data)
		}
	}
	golden(t, "systemd/notes.txt", []byte(strings.Join(notes, "\n")+"\n"))
	files, err := Generate(entries, Options{Systemd: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		names = append(names, f.Package+".cron.d")
		golden(t, "systemd/"+f.Package+".cron.d", f.Data)
	}
	if !*update {
		onDisk, _ := filepath.Glob("testdata/golden/systemd/*")
		for i := range onDisk {
			onDisk[i] = filepath.Base(onDisk[i])
		}
		names = append(names, "notes.txt")
		sort.Strings(names)
		if !slices.Equal(onDisk, names) {
			t.Errorf("golden files %v, generated %v", onDisk, names)
		}
	}
}

// TestExecWordsAreTheCronCommand: the service runs what the cron line
// runs, word for word (the environment aside, which is Environment=).
func TestExecWordsAreTheCronCommand(t *testing.T) {
	entries, err := Collect([]string{"testdata/scripts"})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		plain := *e
		plain.Env = nil
		words, err := SplitWords(Command(&plain, Options{}))
		if err != nil {
			t.Fatal(err)
		}
		i := slices.Index(words, "cronguard")
		exec := ExecWords(e, Options{})
		if i < 0 || !slices.Equal(words[i+1:], exec[1:]) || exec[0] != CronguardPath {
			t.Errorf("%s:%d: service runs %q, cron line %q", e.Source, e.Line, exec, words)
		}
	}
}

func TestSystemdQuote(t *testing.T) {
	for in, want := range map[string]string{
		"--lock":    "--lock",
		"*/5 * * *": `"*/5 * * *"`,
		`it's "x"`:  `"it's \"x\""`,
		`a\b`:       `"a\\b"`,
		"+%Y $HOME": `"+%%Y $$HOME"`,
		"tab\there": `"tab\x09here"`,
	} {
		if got := systemdQuote(in, true); got != want {
			t.Errorf("systemdQuote(%q) = %s, want %s", in, got, want)
		}
	}
	if got := systemdQuote("A=$x %y", false); got != `"A=$x %%y"` {
		t.Errorf("Environment quoting: %s", got)
	}
	if got := UnitName("pkg-a b@c.d"); got != `pkg-a\x20b\x40c.d` {
		t.Errorf("UnitName: %s", got)
	}
}

// calendarSpecs are compared with systemd: steps, ranges, lists, names,
// 7 for Sunday, the OR rule of the day fields, @macros, Feb 29.
var calendarSpecs = []struct {
	spec string
	n    int
}{
	{"*/15 * * * *", 12},
	{"0 9 1 * mon", 12},
	{"30 2 * * 1-5", 12},
	{"0 0 29 2 *", 4},
	{"5,35 8-18/2 * * *", 12},
	{"0 12 */10 jan-mar,oct *", 12},
	{"15 6 * * 7", 8},
	{"0 0 13 * fri", 12},
	{"0 22 * * sat,sun", 8},
	{"1-59/2 * * * *", 12},
	{"0 3 1-7 * sun", 12},
	{"@weekly", 6},
	{"@monthly", 6},
	{"@hourly", 6},
	{"45 23 * 12 0-2,4", 10},
	{"0 0 */2 * */3", 12},
}

// TestOnCalendarMatchesCron: for each spec, the next elapses systemd
// computes for the timer's OnCalendar= lines (all lines merged, as a timer
// with several does) are the next slots of the schedule package, which
// reads the spec as Debian's cron does. UTC, so no clock change.
func TestOnCalendarMatchesCron(t *testing.T) {
	sa := requireTool(t, "systemd-analyze", "systemd")
	for _, tc := range calendarSpecs {
		s, err := schedule.Parse(tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		cal := s.OnCalendar()
		before := time.Now().UTC()
		args := append([]string{"calendar", "--iterations=" + itoa(tc.n)}, cal...)
		cmd := exec.Command(sa, args...)
		cmd.Env = append(os.Environ(), "TZ=UTC", "LC_ALL=C", "SYSTEMD_COLORS=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: systemd-analyze %q: %v\n%s", tc.spec, cal, err, out)
		}
		after := time.Now().UTC()
		got := elapses(t, string(out), tc.n)
		// A minute may turn between the two clocks: either start counts.
		want, want2 := cronNext(s, before, tc.n), cronNext(s, after, tc.n)
		if !slices.Equal(got, want) && !slices.Equal(got, want2) {
			t.Errorf("%s → OnCalendar=%q:\nsystemd %v\ncron    %v", tc.spec, cal, got, want)
		}
	}
}

func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	return debtest.Tool(t, name, pkg)
}

func itoa(n int) string { return strconv.Itoa(n) }

// elapses reads "Next elapse:" and "Iter. #N:" of every expression and
// returns the first n of them all, merged.
func elapses(t *testing.T, out string, n int) []string {
	t.Helper()
	set := map[string]bool{}
	for _, l := range strings.Split(out, "\n") {
		_, v, ok := strings.Cut(l, "Next elapse: ")
		if !ok {
			_, v, ok = strings.Cut(l, "Iter. #")
			if ok {
				_, v, ok = strings.Cut(v, ": ")
			}
		}
		if !ok {
			continue
		}
		tm, err := time.Parse("Mon 2006-01-02 15:04:05 MST", strings.TrimSpace(v))
		if err != nil {
			t.Fatalf("systemd-analyze line %q: %v", l, err)
		}
		set[tm.UTC().Format(time.RFC3339)] = true
	}
	var all []string
	for k := range set {
		all = append(all, k)
	}
	sort.Strings(all)
	if len(all) < n {
		t.Fatalf("systemd-analyze gave %d elapses, want %d:\n%s", len(all), n, out)
	}
	return all[:n]
}

func cronNext(s *schedule.Schedule, from time.Time, n int) []string {
	var out []string
	for t := from; len(out) < n; {
		t = s.Next(t)
		out = append(out, t.Format(time.RFC3339))
	}
	return out
}

// TestSystemdVerify: systemd-analyze verify accepts every unit (with
// ExecStart pointed at an executable that exists here), and refuses a
// broken one, so that the check means something.
func TestSystemdVerify(t *testing.T) {
	sa := requireTool(t, "systemd-analyze", "systemd")
	entries, err := Collect([]string{"testdata/scripts", "testdata/systemd"})
	if err != nil {
		t.Fatal(err)
	}
	timers, _, err := GenerateSystemd(entries, Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	exe := filepath.Join(dir, "cronguard")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, tm := range timers {
		for _, u := range []Unit{tm.Timer, tm.Service} {
			data := strings.Replace(string(u.Data), "ExecStart="+CronguardPath+" ", "ExecStart="+exe+" ", 1)
			p := filepath.Join(dir, u.Name)
			if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
			paths = append(paths, p)
		}
	}
	verify := func(paths ...string) (string, error) {
		cmd := exec.Command(sa, append([]string{"verify", "--man=no"}, paths...)...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := verify(paths...); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	bad := filepath.Join(dir, "broken.timer")
	os.WriteFile(bad, []byte("[Timer]\nOnCalendar=*-*-* 25:00:00\nUnit=nothing.service\n"), 0o644)
	if out, err := verify(bad); err == nil {
		t.Errorf("systemd-analyze verify accepts a broken timer:\n%s", out)
	}
}
