package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// stderrLines is a process's stderr, one entry a line.
func stderrLines(p *proc) []string {
	s := strings.TrimRight(p.stderr.String(), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// noSystemLog skips a test that needs a host without journald and syslog.
func noSystemLog(t *testing.T) {
	for _, p := range []string{"/run/systemd/journal/socket", "/dev/log", "/var/run/syslog", "/var/run/log"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode()&os.ModeSocket != 0 {
			t.Skipf("%s is a socket: this host has a system log", p)
		}
	}
}

// A log file the job's user cannot open (here a path under a regular
// file: unwritable even for root) does not fail the job: it runs, its exit
// is cronguard's, and one line on stderr says where the events went.
func TestE2E_UnwritableLogFile(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(fleetAB)
	notDir := filepath.Join(e.dir, "regular-file")
	os.WriteFile(notDir, nil, 0o644)
	marker := filepath.Join(e.dir, "ran")
	job := e.script("job", "touch "+marker+"; exit 3")
	bad := filepath.Join(notDir, "cronguard.log")
	p := e.startArgs("", "--zk", e.zkAddr, "--prefix", e.prefix, "--hostname", "hostA", "--log-file", bad,
		"run", "-g", "g", "--", job)
	if code := p.wait(t, 30e9); code != 3 {
		t.Fatalf("exit %d, want the job's 3; stderr:\n%s", code, p.stderr.String())
	}
	if _, err := os.Stat(marker); err != nil {
		t.Error("the job did not run")
	}
	lines := stderrLines(p)
	if len(lines) != 1 || !strings.Contains(lines[0], "cannot open log file "+bad) {
		t.Fatalf("want one stderr line about the log file, got:\n%s", p.stderr.String())
	}
	fallback := filepath.Join(e.dir, "state", "cronguard.log")
	if strings.Contains(lines[0], fallback) {
		data, _ := os.ReadFile(fallback)
		if !strings.Contains(string(data), `"event":"start"`) || !strings.Contains(string(data), `"event":"finish"`) {
			t.Errorf("the fallback file lacks the run's events:\n%s", data)
		}
	}
}

// With no log file, no journald and no syslog, the events go to
// <state_dir>/cronguard.log, and one stderr line per run says so.
func TestE2E_NoSystemLogFallsBack(t *testing.T) {
	noSystemLog(t)
	e := newEnv(t)
	e.writeFleet(fleetAB)
	p := e.startArgs("", "--zk", e.zkAddr, "--prefix", e.prefix, "--hostname", "hostA", "run", "-g", "g", "--", "true")
	if code := p.wait(t, 30e9); code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, p.stderr.String())
	}
	fallback := filepath.Join(e.dir, "state", "cronguard.log")
	lines := stderrLines(p)
	if len(lines) != 1 || !strings.Contains(lines[0], "no journald or syslog socket: logging to "+fallback) {
		t.Fatalf("want one stderr line naming %s, got:\n%s", fallback, p.stderr.String())
	}
	data, _ := os.ReadFile(fallback)
	for _, ev := range []string{"start", "finish"} {
		if !strings.Contains(string(data), `"event":"`+ev+`"`) {
			t.Errorf("no %s event in %s:\n%s", ev, fallback, data)
		}
	}
}

// prestartRecord is the part of a run record these tests read.
type prestartRecord struct {
	LastFailure *struct {
		Exit              int    `json:"exit"`
		FailedBeforeStart string `json:"failed_before_start"`
		Error             string `json:"error"`
	} `json:"last_failure"`
	History []struct {
		Exit              int    `json:"exit"`
		FailedBeforeStart string `json:"failed_before_start"`
	} `json:"history"`
}

func (e *env) prestartRecord(lockName string) prestartRecord {
	e.t.Helper()
	data, _, err := e.conn.Get(e.prefix + "/runs/" + lockName)
	if err != nil {
		e.t.Fatalf("reading the run record of %s: %v", lockName, err)
	}
	var r prestartRecord
	if err := json.Unmarshal(data, &r); err != nil {
		e.t.Fatal(err)
	}
	return r
}

func promHas(t *testing.T, metricsDir, lockName, line string) {
	t.Helper()
	data, _ := os.ReadFile(filepath.Join(metricsDir, "cronguard_"+lockName+".prom"))
	if !strings.Contains(string(data), line) {
		t.Errorf("metrics of %s lack %q:\n%s", lockName, line, data)
	}
}

// A script that vanished (127) and an invalid fleet config (125) are
// recorded: a history entry with the exit and failed_before_start, the
// last failure, a counter by reason, and `status` shows them.
func TestE2E_StartFailuresRecorded(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(fleetAB)
	cfg, _, metricsDir := e.recordConfig("cfg.json", e.zkAddr, 10*time.Second)
	missing := filepath.Join(e.dir, "vanished")
	for i := 0; i < 2; i++ {
		p := e.runRaw("hostA", "--config", cfg, "run", "-g", "g", "--", missing)
		p.wait(t, 30e9)
		if p.code != 127 || len(stderrLines(p)) != 1 {
			t.Fatalf("exit %d, want 127 and one stderr line; stderr:\n%s", p.code, p.stderr.String())
		}
	}
	r := e.prestartRecord("vanished")
	if r.LastFailure == nil || r.LastFailure.Exit != 127 || r.LastFailure.FailedBeforeStart != "not_found" ||
		!strings.Contains(r.LastFailure.Error, "vanished") {
		t.Errorf("last_failure %+v", r.LastFailure)
	}
	if len(r.History) != 2 || r.History[0].FailedBeforeStart != "not_found" {
		t.Errorf("history %+v", r.History)
	}
	promHas(t, metricsDir, "vanished", `cronguard_start_failures_total{lock="vanished",group="g",reason="not_found"} 2`)
	st := e.run("hostA", "status")
	if !strings.Contains(st.stdout.String(), "exit 127") || !strings.Contains(st.stdout.String(), "did not start: not_found") {
		t.Errorf("status does not show the failure:\n%s", st.stdout.String())
	}

	// A host outside the group records nothing (the script may rightly be
	// absent there), and still exits 127.
	p := e.runRaw("hostB", "--config", cfg, "run", "-g", "g", "--", filepath.Join(e.dir, "absent-elsewhere"))
	p.wait(t, 30e9)
	if p.code != 127 || e.exists(e.prefix+"/runs/absent-elsewhere") {
		t.Errorf("ineligible host: exit %d, record written: %v", p.code, e.exists(e.prefix+"/runs/absent-elsewhere"))
	}

	// An invalid fleet config: 125, recorded.
	bad := newEnvAt(t, e.zkAddr)
	bad.writeFleet(`{"groups": `)
	cfg, _, metricsDir = bad.recordConfig("cfg.json", e.zkAddr, 10*time.Second)
	job := bad.script("job", "exit 0")
	p = bad.runRaw("hostA", "--config", cfg, "run", "-g", "g", "--", job)
	p.wait(t, 30e9)
	if p.code != 125 || len(stderrLines(p)) != 1 {
		t.Fatalf("exit %d, want 125 and one stderr line; stderr:\n%s", p.code, p.stderr.String())
	}
	r = bad.prestartRecord("job")
	if r.LastFailure == nil || r.LastFailure.Exit != 125 || r.LastFailure.FailedBeforeStart != "config" {
		t.Errorf("last_failure %+v", r.LastFailure)
	}
	promHas(t, metricsDir, "job", `cronguard_start_failures_total{lock="job",group="g",reason="config"} 1`)
}

// ZooKeeper unreachable: the first failure prints one line, the next ones
// within the window print nothing (exit 125 all the same) and are counted;
// the first run that reaches ZooKeeper again says so once.
func TestE2E_OutageQuiet(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(fleetAB)
	good, stateDir, metricsDir := e.recordConfig("good.json", e.zkAddr, 10*time.Second)
	down := filepath.Join(e.dir, "down.json")
	os.WriteFile(down, []byte(fmt.Sprintf(`{"zkhosts": "127.0.0.1:1", "prefix": %q, "connect_timeout": 1, "state_dir": %q, "metrics_dir": %q}`,
		e.prefix, stateDir, metricsDir)), 0o644)
	job := e.script("job", "exit 0")
	var quietLog string
	for i := 0; i < 3; i++ {
		p := e.runRaw("hostA", "--config", down, "run", "-g", "g", "--", job)
		p.wait(t, 30e9)
		lines := stderrLines(p)
		if p.code != 125 {
			t.Fatalf("run %d: exit %d, want 125; stderr:\n%s", i, p.code, p.stderr.String())
		}
		if i == 0 && (len(lines) != 1 || !strings.Contains(lines[0], "127.0.0.1:1")) {
			t.Fatalf("first failure: want one stderr line, got:\n%s", p.stderr.String())
		}
		if i > 0 && len(lines) != 0 {
			t.Fatalf("failure %d within the window printed:\n%s", i+1, p.stderr.String())
		}
		if i == 2 {
			quietLog = p.logText()
		}
	}
	if !strings.Contains(quietLog, `"quiet":true`) || !strings.Contains(quietLog, "127.0.0.1:1") {
		t.Errorf("a quiet failure is not logged:\n%s", quietLog)
	}
	promHas(t, metricsDir, "job", `reason="zk_unreachable"} 3`)

	for i, want := range []int{1, 0} {
		p := e.runRaw("hostA", "--config", good, "run", "-g", "g", "--", job)
		p.wait(t, 30e9)
		if p.code != 0 {
			t.Fatalf("exit %d; stderr:\n%s", p.code, p.stderr.String())
		}
		lines := stderrLines(p)
		if len(lines) != want || want == 1 && !strings.Contains(lines[0], "ZooKeeper reachable again after 2 quiet failures since") {
			t.Fatalf("run %d against a working ZooKeeper: want %d reachable-again line, got:\n%s", i, want, p.stderr.String())
		}
	}
}
