package metadata

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCommandSchedule: every guarded line carries its schedule, quoted as
// one sh word, so that the run claims its slot; @reboot (no slots) and a
// spec that never matches get none.
func TestCommandSchedule(t *testing.T) {
	for _, tc := range []struct{ time, want string }{
		{"17 3 * * *", "--lock j --schedule '17 3 * * *' -- /usr/libexec/cronguard/j.sh"},
		{"*/2 * * * *", "--lock j --schedule '*/2 * * * *' -- "},
		{"@daily", "--lock j --schedule @daily -- "},
		{"@reboot", "--lock j -- "},
		{"0 0 31 2 *", "--lock j -- "},
	} {
		e := &Entry{Time: tc.time, Script: "j.sh", Group: "g", Lock: "j", User: "root", Package: "p"}
		got := Command(e, Options{})
		if !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want it to contain %q", tc.time, got, tc.want)
		}
		files, err := Generate([]*Entry{e}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if line := tc.time + " root [ -x /usr/libexec/cronguard/j.sh ] && " + got + "\n"; !strings.Contains(string(files[0].Data), line) {
			t.Errorf("%s: the file lacks %q:\n%s", tc.time, line, files[0].Data)
		}
	}
}

// cronCommand is what Debian's cron hands to sh of a crontab line's
// command field (do_command.c): "\%" becomes "%", any other backslash
// stays, and an unescaped '%' ends the command (the rest is stdin).
func cronCommand(field string) string {
	var b strings.Builder
	escaped := false
	for i := 0; i < len(field); i++ {
		c := field[i]
		switch {
		case escaped:
			if c != '%' {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
			escaped = false
		case c == '\\':
			escaped = true
		case c == '%':
			return b.String()
		default:
			b.WriteByte(c)
		}
	}
	if escaped {
		b.WriteByte('\\')
	}
	return b.String()
}

// TestCronLineScriptGone: a generated line, run by sh as cron runs it,
// does nothing and prints nothing once its script is gone (a job package
// removed but not purged leaves its cron.d file), and runs with the script
// in place: guarded lines with env prefixes and a '%' in params, and plain
// lines of switchman's form alike.
func TestCronLineScriptGone(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	dir := t.TempDir()
	install := filepath.Join(dir, "libexec")
	bin := filepath.Join(dir, "bin")
	marker := filepath.Join(dir, "ran")
	for _, d := range []string{install, bin} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A stand-in cronguard on PATH: it records its environment and args.
	record := "#!/bin/sh\nprintf '%s|%s|' \"$0\" \"$MODE\" >> " + marker + "\nprintf '<%s>' \"$@\" >> " + marker + "\n"
	if err := os.WriteFile(filepath.Join(bin, "cronguard"), []byte(record), 0o755); err != nil {
		t.Fatal(err)
	}
	env := []EnvVar{{Name: "LANG", Value: "C"}, {Name: "MODE", Value: "dry run"}}
	guarded := &Entry{Source: "job.sh", Script: "job.sh", Time: "17 3 * * *", User: "root", Package: "p",
		Group: "g", Lock: "j", Env: env, Params: []string{"--stamp", "+%Y-%m", "it's"}}
	plain := &Entry{Source: "plain.sh", Script: "plain.sh", Time: "*/10 * * * *", User: "export", Package: "p",
		Plain: true, Env: env, Params: []string{"--cleanup", "50%"}}
	files, err := Generate([]*Entry{guarded, plain}, Options{InstallDir: install})
	if err != nil {
		t.Fatal(err)
	}
	line := func(e *Entry) string {
		for _, l := range strings.Split(string(files[0].Data), "\n") {
			if rest, ok := strings.CutPrefix(l, e.Time+" "+e.User+" "); ok {
				return cronCommand(rest)
			}
		}
		t.Fatalf("no line for %s in\n%s", e.Script, files[0].Data)
		return ""
	}
	run := func(cmd string) (string, string) {
		os.Remove(marker)
		c := exec.Command("sh", "-c", cmd)
		c.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "HOME=" + dir}
		out, _ := c.CombinedOutput()
		ran, _ := os.ReadFile(marker)
		return string(out), string(ran)
	}
	for _, tc := range []struct {
		e    *Entry
		want string // what the marker holds when the line runs
	}{
		{guarded, bin + "/cronguard|dry run|<run><--group><g><--lock><j><--schedule><17 3 * * *><--><" +
			install + "/job.sh><--stamp><+%Y-%m><it's>"},
		{plain, install + "/plain.sh|dry run|<--cleanup><50%>"},
	} {
		cmd := line(tc.e)
		script := filepath.Join(install, tc.e.Script)
		os.Remove(script)
		if out, ran := run(cmd); out != "" || ran != "" {
			t.Errorf("%s gone: %q printed %q, ran %q; want nothing", tc.e.Script, cmd, out, ran)
		}
		// Present but not executable: nothing either (cron would get 126).
		if err := os.WriteFile(script, []byte(record), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, ran := run(cmd); out != "" || ran != "" {
			t.Errorf("%s not executable: printed %q, ran %q; want nothing", tc.e.Script, out, ran)
		}
		if err := os.Chmod(script, 0o755); err != nil {
			t.Fatal(err)
		}
		if out, ran := run(cmd); out != "" || ran != tc.want {
			t.Errorf("%s present: %q printed %q, ran\n%q, want\n%q", tc.e.Script, cmd, out, ran, tc.want)
		}
	}
}
