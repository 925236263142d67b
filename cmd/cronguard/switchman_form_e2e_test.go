package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestE2E_SwitchmanCrontabWithoutDashDash runs a switchman crontab line as
// switchman 1.16 accepted it, with "switchman" replaced by "cronguard": no
// "--" before the command, single-dash long options, an abbreviation, a
// Perl lease expression, and one of switchman's options after the command
// word (Getopt::Long permutes). The job must run with the lock and
// arguments switchman would have given it.
func TestE2E_SwitchmanCrontabWithoutDashDash(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(`{"groups": {"g": "hostA"}, "resources": ["mem"]}`)
	logPath := e.newLogPath()
	conf := filepath.Join(e.dir, "switchman.conf")
	if err := os.WriteFile(conf, []byte(`{"zkhosts": "`+e.zkAddr+`", "prefix": "`+e.prefix+`", "hostname": "hostA", "logfile": "`+logPath+`", "loglevel": "debug"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(e.dir, "out")
	job := e.script("job", `printf '%s\n' "$CRONGUARD_LOCK" "$CRONGUARD_GROUP" "$@" > `+out+`
`)
	p := e.startArgs(logPath, "-c", conf, "-group", "g", "--lockn", "swjob", "--lease", "mem=1:int(3/2)", job, "one", "--no-lock", "two")
	if code := p.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("exit %d, want 0; stderr:\n%s", code, p.stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("the job did not run: %v; stderr:\n%s", err, p.stderr.String())
	}
	// --no-lock after the command word is switchman's (permute): no lock,
	// so CRONGUARD_LOCK is still the lock name the run would have taken.
	if got, want := string(b), "swjob\ng\none\ntwo\n"; got != want {
		t.Errorf("job saw %q, want %q", got, want)
	}
	if strings.Contains(p.stderr.String(), "unknown command") {
		t.Errorf("stderr: %s", p.stderr.String())
	}
}
