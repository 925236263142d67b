package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cronguard/cronguard/config"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

var goldenNow = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func TestStatusGolden(t *testing.T) {
	snap := &statusSnapshot{
		Prefix: "/switchman",
		Host:   &statusHost{identity: identity{Name: "box-a.ec2.internal", Source: "net-domain", Detail: `hostname "box-a" + domain "ec2.internal" from /etc/resolv.conf search`}, Groups: []string{}},
		Groups: map[string][]string{"reports": {"box-a", "box-b"}, "batch": {"box1", "box-a", "box-b"}, "empty": nil},
		Locks: []heldLock{
			{Lock: "nightly-report", Host: "box-a", PID: 4242, Since: goldenNow.Add(-90 * time.Second), Fence: 1234, Command: "/usr/local/bin/nightly-report --full", Holder: "cronguard"},
			{Lock: "legacy", Host: "old.example.com", PID: 17, Since: goldenNow.Add(-3 * time.Hour), Fence: 99, Holder: "switchman"},
			{Lock: "odd", Since: goldenNow.Add(-72 * time.Hour), Fence: 7, Holder: "unknown", Raw: "???"},
		},
		Runs: []statusRun{
			{runRecord: runRecord{Lock: "nightly-report",
				LastRun:     &runEntry{Host: "box-a", End: goldenNow.Add(-10 * time.Minute), Exit: 143, DurationMS: 61_000, StopReason: "ineligible"},
				LastSuccess: &runEntry{Host: "box-b", End: goldenNow.Add(-70 * time.Minute), Exit: 0, DurationMS: 1500},
				LastFailure: &runEntry{Host: "box-a", End: goldenNow.Add(-10 * time.Minute), Exit: 143, DurationMS: 61_000, StopReason: "ineligible"}}},
			{runRecord: runRecord{Lock: "never-failed", LastRun: &runEntry{Host: "box1", End: goldenNow.Add(-5 * time.Second), DurationMS: 20},
				LastSuccess: &runEntry{Host: "box1", End: goldenNow.Add(-5 * time.Second), DurationMS: 20}}},
		},
	}
	snap.Runs = append(snap.Runs, goldenScheduledRuns(t)...)
	var buf bytes.Buffer
	if err := renderStatus(&buf, snap, goldenNow); err != nil {
		t.Fatal(err)
	}
	golden(t, "status.golden", buf.Bytes())
}

func TestExplainGolden(t *testing.T) {
	fleet, err := config.ParseFleet([]byte(`{"groups": {"reports": "box-a", "batch": ["box1", "reports"], "web": ["web1.example.com"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for _, tc := range []struct {
		group, host string
		eligible    bool
	}{
		{"batch", "box-a", true},
		{"batch", "box1", true},
		{"reports", "box1", false},
		{"web", "web1", false},
	} {
		err := explain(&buf, fleet, tc.group, identity{Name: tc.host, Source: "--host"})
		var ee *exitError
		if tc.eligible != (err == nil) || (err != nil && (!errors.As(err, &ee) || ee.code != ExitRefused)) {
			t.Errorf("explain(%s, %s) = %v, want eligible=%v", tc.group, tc.host, err, tc.eligible)
		}
	}
	err = explain(&buf, fleet, "batch", identity{Name: "box1.example.com", Source: "--hostname", Switchman: "box1.ec2.internal"})
	if err == nil {
		t.Error("box1.example.com is not in batch")
	}
	if err := explain(&buf, fleet, "nope", identity{Name: "x"}); !errors.Is(err, config.ErrUnknownGroup) {
		t.Errorf("unknown group: %v", err)
	}
	golden(t, "explain.golden", buf.Bytes())
}

func TestCheckJudge(t *testing.T) {
	ok := &runEntry{Host: "box-a", End: goldenNow.Add(-30 * time.Minute), DurationMS: 1200}
	fail := &runEntry{Host: "box-b", End: goldenNow.Add(-5 * time.Minute), Exit: 3, DurationMS: 800}
	for _, tc := range []struct {
		name          string
		rec           runRecord
		warn, max     time.Duration
		code          int
		wantSubstring string
	}{
		{"fresh success", runRecord{LastRun: ok, LastSuccess: ok}, 0, time.Hour, checkOK,
			"CRONGUARD OK - job last succeeded 30m0s ago on box-a (limit 1h0m0s) | age=1800s;3600;3600 last_duration=1.200s last_exit=0"},
		{"warn", runRecord{LastRun: ok, LastSuccess: ok}, 20 * time.Minute, time.Hour, checkWarning, "CRONGUARD WARNING - "},
		{"stale", runRecord{LastRun: ok, LastSuccess: ok}, 0, 10 * time.Minute, checkCritical, "CRONGUARD CRITICAL - job last succeeded 30m0s ago"},
		{"failing since", runRecord{LastRun: fail, LastSuccess: ok, LastFailure: fail}, 0, time.Hour, checkOK, "failed since: exit 3 5m0s ago on box-b"},
		{"never succeeded", runRecord{LastRun: fail, LastFailure: fail}, 0, time.Hour, checkCritical, "CRONGUARD CRITICAL - job never succeeded; last run 5m0s ago on box-b exited 3"},
	} {
		o := &checkOptions{lock: "job", maxAge: tc.max, warnAge: tc.warn, now: func() time.Time { return goldenNow }}
		code, line := o.judge(&tc.rec)
		if code != tc.code || !bytes.Contains([]byte(line), []byte(tc.wantSubstring)) {
			t.Errorf("%s: %d %q, want %d containing %q", tc.name, code, line, tc.code, tc.wantSubstring)
		}
	}
}

// goldenScheduledRuns: jobs run with --schedule, as the snapshot makes
// them: one whose last slot succeeded, one failing for three slots in
// Europe/Berlin, one registered that never ran. (A zone unknown here
// falls back to the machine's: not for a golden file; see TestJudgeSchedule.)
func goldenScheduledRuns(t *testing.T) []statusRun {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	exit2 := 2
	end := func(s string) *time.Time { v := at(s).Add(time.Minute); return &v }
	slot := func(s string) *time.Time { v := at(s); return &v }
	longAgo := at("2026-11-01T00:00:00Z")
	return []statusRun{
		newStatusRun(runRecord{Lock: "hourly-sync", Schedule: "0 * * * *", TZ: "UTC",
			LastSlot:    &slotClaim{Slot: at("2026-11-24T11:00:00Z"), Host: "box-a", Outcome: outcomeSuccess, Exit: new(int), End: end("2026-11-24T11:00:00Z")},
			LastRun:     &runEntry{Host: "box-a", End: *end("2026-11-24T11:00:00Z"), DurationMS: 60_000, Slot: slot("2026-11-24T11:00:00Z")},
			LastSuccess: &runEntry{Host: "box-a", End: *end("2026-11-24T11:00:00Z"), DurationMS: 60_000, Slot: slot("2026-11-24T11:00:00Z")}},
			longAgo, goldenNow),
		newStatusRun(runRecord{Lock: "nightly", Schedule: "30 2 * * *", TZ: "Europe/Berlin",
			LastSlot:    &slotClaim{Slot: at("2026-11-22T02:30:00+01:00"), Host: "box-b", Outcome: outcomeFailure, Exit: &exit2, End: end("2026-11-22T02:30:00+01:00")},
			LastRun:     &runEntry{Host: "box-b", End: *end("2026-11-22T02:30:00+01:00"), Exit: 2, DurationMS: 60_000, Slot: slot("2026-11-22T02:30:00+01:00")},
			LastFailure: &runEntry{Host: "box-b", End: *end("2026-11-22T02:30:00+01:00"), Exit: 2, DurationMS: 60_000, Slot: slot("2026-11-22T02:30:00+01:00")},
			LastSuccess: &runEntry{Host: "box-a", End: *end("2026-11-21T02:30:00+01:00"), DurationMS: 60_000, Slot: slot("2026-11-21T02:30:00+01:00")}},
			longAgo, goldenNow),
		newStatusRun(runRecord{Lock: "fresh", Schedule: "*/10 * * * *", TZ: "UTC"}, goldenNow.Add(-5*time.Minute), goldenNow),
	}
}

// TestStatusJSONFields: status --json keeps every field of the run record
// (the ledger's too) and adds the scheduled job's registration, next slot
// and slots missed since its last success.
func TestStatusJSONFields(t *testing.T) {
	runs := goldenScheduledRuns(t)
	out, err := json.Marshal(statusSnapshot{Runs: runs[1:2]})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"lock":"nightly"`, `"schedule":"30 2 * * *"`, `"tz":"Europe/Berlin"`,
		`"last_slot":{"slot":"2026-11-22T02:30:00+01:00","host":"box-b",`, `"outcome":"failure","exit":2`,
		`"last_run":{`, `"last_success":{`, `"last_failure":{`, `"registered":"2026-11-01T00:00:00Z"`,
		`"next_slot":"2026-11-25T02:30:00+01:00"`, `"missed_since_success":3`} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("status --json lacks %s:\n%s", want, out)
		}
	}
}
