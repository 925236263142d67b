package main

// check without --max-age: the schedule in the run record is the bound.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A scheduled job whose slots pass with no run anywhere is CRITICAL
// "missed"; once the current slot ran it is OK again.
func TestE2E_CheckMissedSlot(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(fleetABC)
	job := e.script("job", "exit 0")
	hourAgo := time.Now().Add(-time.Hour)
	if p := e.run("hostA", "run", "-g", "g", "--lock", "job", "--schedule", "*/5 * * * *", "--now", hourAgo.Format(time.RFC3339), "--", job); p.code != 0 {
		t.Fatalf("run: %d %s", p.code, p.stderr.String())
	}
	code, out, _ := e.op("check", "--lock", "job")
	if code != 2 || !strings.HasPrefix(out, "CRONGUARD CRITICAL - job: slot ") || !strings.Contains(out, " missed and ") || !strings.Contains(out, "| missed=1") {
		t.Fatalf("check after an hour without runs: %d %q", code, out)
	}
	if p := e.run("hostB", "run", "-g", "g", "--lock", "job", "--schedule", "*/5 * * * *", "--", job); p.code != 0 {
		t.Fatalf("run: %d %s", p.code, p.stderr.String())
	}
	if code, out, _ := e.op("check", "--lock", "job"); code != 0 || !strings.Contains(out, "succeeded on hostB") || !strings.Contains(out, "| missed=0 age=") {
		t.Fatalf("check after the current slot ran: %d %q", code, out)
	}
	// The age check is unchanged.
	if code, out, _ := e.op("check", "--lock", "job", "--max-age", "1h"); code != 0 || !strings.Contains(out, "| age=") {
		t.Fatalf("check --max-age: %d %q", code, out)
	}
}

// A job no eligible host ever ran is known from the stub an ineligible
// host registered: OK until its first slot is past the grace, then
// CRITICAL "never ran".
func TestE2E_CheckNeverRan(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(fleetABC)
	job := e.script("job", "exit 0")
	if p := e.run("hostZ", "run", "-g", "g", "--lock", "never", "--schedule", "17 3 * * *", "--", job); p.code != 0 {
		t.Fatalf("ineligible run: %d %s", p.code, p.stderr.String())
	}
	if code, out, _ := e.op("check", "--lock", "never"); code != 0 || !strings.Contains(out, "never ran; first slot ") {
		t.Fatalf("check before the first slot: %d %q", code, out)
	}
	later := time.Now().Add(25 * time.Hour).Format(time.RFC3339)
	if code, out, _ := e.op("check", "--lock", "never", "--now", later); code != 2 || !strings.HasPrefix(out, "CRONGUARD CRITICAL - never never ran: 1 slot missed since it was registered ") {
		t.Fatalf("check a day later: %d %q", code, out)
	}
}

// check --all: one line of summary, then one line per job in trouble;
// exit with the worst. A job without a schedule is counted, not checked.
func TestE2E_CheckAll(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(fleetABC)
	job := e.script("job", "exit 0")
	at := time.Now().Add(2 * time.Hour)
	run := func(host, lock, spec string, now time.Time) {
		t.Helper()
		args := []string{"run", "-g", "g", "--lock", lock}
		if spec != "" {
			args = append(args, "--schedule", spec, "--now", now.Format(time.RFC3339))
		}
		if p := e.run(host, append(args, "--", job)...); p.code != 0 {
			t.Fatalf("%s: %d %s", lock, p.code, p.stderr.String())
		}
	}
	run("hostA", "fine", "0 * * * *", at.Add(-time.Minute))
	run("hostA", "late", "*/5 * * * *", time.Now())
	run("hostZ", "never", "*/5 * * * *", time.Now()) // ineligible: registers it
	run("hostA", "plain", "", time.Time{})
	code, out, _ := e.op("check", "--all", "--now", at.Format(time.RFC3339))
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if code != 2 || len(lines) != 3 ||
		!strings.HasPrefix(lines[0], "CRONGUARD CRITICAL - 3 scheduled jobs: 1 OK, 0 WARNING, 2 CRITICAL, 0 UNKNOWN; 1 without a schedule, not checked | jobs=3 ok=1 warning=0 critical=2 unknown=0 missed=") ||
		!strings.HasPrefix(lines[1], "CRITICAL - late: slot ") || !strings.Contains(lines[1], "missed") ||
		!strings.HasPrefix(lines[2], "CRITICAL - never never ran: ") {
		t.Fatalf("check --all: exit %d\n%s", code, out)
	}
	if code, out, _ := e.op("check", "--all"); code != 0 || !strings.HasPrefix(out, "CRONGUARD OK - 3 scheduled jobs: 3 OK") {
		t.Fatalf("check --all now: exit %d\n%s", code, out)
	}
}

// The run that claims a slot after a hole counts the hole in its host's
// metrics: cronguard_slots_missed_total, and the slot's time.
func TestE2E_MetricsCountMissedSlots(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(fleetABC)
	cfg, _, metricsDir := e.recordConfig("m.json", e.zkAddr, 10*time.Second)
	job := e.script("job", "exit 0")
	now := time.Now()
	for _, at := range []time.Time{now.Add(-time.Hour), now} {
		p := e.run("hostA", "--config", cfg, "run", "-g", "g", "--lock", "job", "--schedule", "*/5 * * * *", "--now", at.Format(time.RFC3339Nano), "--", job)
		if p.code != 0 {
			t.Fatalf("run: %d %s", p.code, p.stderr.String())
		}
	}
	b, err := os.ReadFile(filepath.Join(metricsDir, "cronguard_job.prom"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "cronguard_slots_missed_total{lock=\"job\",group=\"g\"} 11\n") ||
		!strings.Contains(string(b), "cronguard_last_slot_timestamp_seconds{lock=\"job\",group=\"g\"} ") {
		t.Fatalf("metrics:\n%s", b)
	}
}
