package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/cronguard/cronguard/schedule"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestJudgeSchedule: the decision of `check` without --max-age, from the
// ledger alone: the last slot's outcome, slots missed (one or many), a
// job registered that never ran, a given grace, and slots across both
// clock changes of Europe/Berlin (a fixed-time job's slot in the
// spring-forward gap, a wildcard job's second pass in the repeated hour).
func TestJudgeSchedule(t *testing.T) {
	exit3 := 3
	claim := func(slot, outcome string) *slotClaim {
		c := &slotClaim{Slot: mustTime(t, slot), Host: "box-a", Outcome: outcome, Claimed: mustTime(t, slot)}
		if outcome == outcomeFailure {
			c.Exit = &exit3
		}
		return c
	}
	ranSlot := func(slot string, exit int) runEntry {
		s := mustTime(t, slot)
		return runEntry{Host: "box-b", Exit: exit, Slot: &s, End: s.Add(time.Minute)}
	}
	every5 := func(c *slotClaim, h ...runEntry) runRecord {
		return runRecord{Schedule: "*/5 * * * *", TZ: "UTC", LastSlot: c, History: h}
	}
	noon := "2026-11-24T12:00:00Z"
	for _, tc := range []struct {
		name    string
		rec     runRecord
		created string // when the record was made
		now     string
		grace   time.Duration
		state   int
		missed  int
		want    string
	}{
		{"last slot succeeded", every5(claim("2026-11-24T11:55:00Z", outcomeSuccess)), "", noon, 0, checkOK, 0,
			"job: last slot 2026-11-24T11:55:00Z succeeded on box-a; next slot 2026-11-24T12:05:00Z"},
		{"last slot failed", every5(claim("2026-11-24T11:55:00Z", outcomeFailure)), "", noon, 0, checkWarning, 0,
			"job: last slot 2026-11-24T11:55:00Z failed on box-a: exit 3"},
		{"last slot running", every5(claim("2026-11-24T11:55:00Z", outcomeRunning)), "", noon, 0, checkOK, 0,
			"job: slot 2026-11-24T11:55:00Z running on box-a since 2026-11-24T11:55:00Z"},
		{"running after a failed slot", every5(claim("2026-11-24T12:00:00Z", outcomeRunning), ranSlot("2026-11-24T11:55:00Z", 3)), "", noon, 0, checkWarning, 0,
			"the slot before, 2026-11-24T11:55:00Z, failed on box-b: exit 3"},
		{"running after a good slot", every5(claim("2026-11-24T12:00:00Z", outcomeRunning), ranSlot("2026-11-24T11:55:00Z", 0)), "", noon, 0, checkOK, 0,
			"running on box-a"},
		{"one slot missed", every5(claim("2026-11-24T11:50:00Z", outcomeSuccess)), "", noon, 0, checkCritical, 1,
			"job: slot 2026-11-24T11:55:00Z missed (grace 2m30s); last claimed slot 2026-11-24T11:50:00Z on box-a: success"},
		{"three slots missed", every5(claim("2026-11-24T11:40:00Z", outcomeFailure)), "", noon, 0, checkCritical, 3,
			"job: slot 2026-11-24T11:45:00Z missed and 2 more to 2026-11-24T11:55:00Z"},
		{"next slot within the grace", every5(claim("2026-11-24T11:50:00Z", outcomeSuccess)), "", "2026-11-24T11:57:00Z", 0, checkOK, 0,
			"last slot 2026-11-24T11:50:00Z succeeded"},
		{"a longer grace", every5(claim("2026-11-24T11:40:00Z", outcomeSuccess)), "", noon, 10 * time.Minute, checkCritical, 2,
			"slot 2026-11-24T11:45:00Z missed and 1 more to 2026-11-24T11:50:00Z (grace 10m0s)"},
		{"never ran", every5(nil), "2026-11-24T11:00:01Z", noon, 0, checkCritical, 12,
			"job never ran: 12 slots missed since it was registered 2026-11-24T11:00:01Z, the first 2026-11-24T11:00:00Z"},
		{"registered, first slot not due", every5(nil), "2026-11-24T11:56:00Z", noon, 0, checkOK, 0,
			"job registered 2026-11-24T11:56:00Z, never ran; first slot 2026-11-24T12:00:00Z"},
		{"daily job, grace 10m", runRecord{Schedule: "17 3 * * *", TZ: "UTC", LastSlot: claim("2026-11-23T03:17:00Z", outcomeSuccess)}, "",
			"2026-11-24T03:27:30Z", 0, checkCritical, 1, "slot 2026-11-24T03:17:00Z missed (grace 10m0s)"},
		{"daily job within the grace", runRecord{Schedule: "17 3 * * *", TZ: "UTC", LastSlot: claim("2026-11-23T03:17:00Z", outcomeSuccess)}, "",
			"2026-11-24T03:26:00Z", 0, checkOK, 0, "succeeded"},
		// Spring forward in Berlin: 02:30 does not exist on 2026-03-29; cron
		// runs the fixed-time job at 03:00 CEST, keyed 02:30+02:00.
		{"DST gap slot missed", runRecord{Schedule: "30 2 * * *", TZ: "Europe/Berlin", LastSlot: claim("2026-03-28T02:30:00+01:00", outcomeSuccess)}, "",
			"2026-03-29T03:11:00+02:00", 0, checkCritical, 1, "slot 2026-03-29T02:30:00+02:00 missed"},
		{"DST gap slot not due", runRecord{Schedule: "30 2 * * *", TZ: "Europe/Berlin", LastSlot: claim("2026-03-28T02:30:00+01:00", outcomeSuccess)}, "",
			"2026-03-29T03:09:00+02:00", 0, checkOK, 0, "succeeded"},
		{"DST gap slot ran", runRecord{Schedule: "30 2 * * *", TZ: "Europe/Berlin", LastSlot: claim("2026-03-29T02:30:00+02:00", outcomeSuccess)}, "",
			"2026-03-29T05:00:00+02:00", 0, checkOK, 0, "last slot 2026-03-29T02:30:00+02:00 succeeded"},
		// Fall back: a wildcard job runs 02:30 twice on 2026-10-25.
		{"repeated hour: second pass missed", runRecord{Schedule: "*/30 * * * *", TZ: "Europe/Berlin", LastSlot: claim("2026-10-25T02:30:00+02:00", outcomeSuccess)}, "",
			"2026-10-25T02:45:00+01:00", 0, checkCritical, 2, "slot 2026-10-25T02:00:00+01:00 missed and 1 more to 2026-10-25T02:30:00+01:00"},
		{"repeated hour: first pass ran", runRecord{Schedule: "*/30 * * * *", TZ: "Europe/Berlin", LastSlot: claim("2026-10-25T02:30:00+02:00", outcomeSuccess)}, "",
			"2026-10-25T02:50:00+02:00", 0, checkOK, 0, "next slot 2026-10-25T02:00:00+01:00"},
		{"unknown zone", runRecord{Schedule: "*/5 * * * *", TZ: "Mars/Olympus", LastSlot: claim("2026-11-24T11:55:00Z", outcomeSuccess)}, "",
			noon, 0, checkOK, 0, `(zone "Mars/Olympus" unknown here: slots computed in local time)`},
		{"bad schedule", runRecord{Schedule: "61 * * * *", TZ: "UTC"}, "", noon, 0, checkUnknown, 0, "job: the run record's schedule:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			created := mustTime(t, "2026-01-01T00:00:00Z")
			if tc.created != "" {
				created = mustTime(t, tc.created)
			}
			v := judgeSchedule("job", &tc.rec, created, mustTime(t, tc.now), tc.grace)
			if v.state != tc.state || v.missed != tc.missed || !strings.Contains(v.text, tc.want) {
				t.Errorf("state %d missed %d %q\nwant state %d missed %d containing %q", v.state, v.missed, v.text, tc.state, tc.missed, tc.want)
			}
		})
	}
}

// TestMissedSince: a run that claims slot S after the previous claim P
// counts the slots strictly between them as missed, from the record the
// claim read: none after the slot before S, N after a hole of N; a gap
// slot (Berlin's spring forward) counts once.
func TestMissedSince(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip(err)
	}
	for _, tc := range []struct {
		spec, prev, now string
		loc             *time.Location
		want            int
	}{
		{"*/5 * * * *", "", "2026-11-24T12:00:02Z", time.UTC, 0},
		{"*/5 * * * *", "2026-11-24T11:55:00Z", "2026-11-24T12:00:02Z", time.UTC, 0},
		{"*/5 * * * *", "2026-11-24T11:55:00Z", "2026-11-24T11:59:55Z", time.UTC, 0}, // fired early: tolerance
		{"*/5 * * * *", "2026-11-24T11:40:00Z", "2026-11-24T12:00:02Z", time.UTC, 3},
		{"30 2 * * *", "2026-03-28T02:30:00+01:00", "2026-03-30T02:30:01+02:00", berlin, 1}, // the gap slot 02:30+02:00 on the 29th
		{"30 2 * * *", "2026-03-29T02:30:00+02:00", "2026-03-30T02:30:01+02:00", berlin, 0},
	} {
		s, err := schedule.Parse(tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		now := mustTime(t, tc.now).In(tc.loc)
		e := &runEnv{sched: s, slotAt: now, slot: s.Slot(now, schedule.DefaultTolerance)}
		var prev *slotClaim
		if tc.prev != "" {
			prev = &slotClaim{Slot: mustTime(t, tc.prev)}
		}
		if got := e.missedSince(prev); got != tc.want {
			t.Errorf("%s: prev %s, run at %s (slot %s): %d missed, want %d", tc.spec, tc.prev, tc.now, schedule.Key(e.slot), got, tc.want)
		}
	}
}

// TestMetricsSlots: the last slot's time and the missed-slot counter, in
// a file the official parser reads; the counter keeps counting across
// runs, and a job without a schedule gets neither.
func TestMetricsSlots(t *testing.T) {
	dir := t.TempDir()
	for _, missed := range []float64{2, 0, 3} {
		if err := updateMetrics(dir, "job", "g", func(m *runMetrics) { m.lastSlot = 1764000000; m.slotsMissed += missed }); err != nil {
			t.Fatal(err)
		}
	}
	if err := updateMetrics(dir, "plain", "g", func(m *runMetrics) { m.runs++ }); err != nil {
		t.Fatal(err)
	}
	read := func(lock string) map[string]float64 {
		data, err := os.ReadFile(filepath.Join(dir, "cronguard_"+lock+".prom"))
		if err != nil {
			t.Fatal(err)
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := parser.TextToMetricFamilies(strings.NewReader(string(data)))
		if err != nil {
			t.Fatalf("%v\n%s", err, data)
		}
		out := map[string]float64{}
		for name, f := range fams {
			switch f.GetType().String() {
			case "GAUGE":
				out[name] = f.Metric[0].GetGauge().GetValue()
			case "COUNTER":
				if len(f.Metric) > 0 {
					out[name+" (counter)"] = f.Metric[0].GetCounter().GetValue()
				}
			}
		}
		return out
	}
	got := read("job")
	if v, ok := got["cronguard_last_slot_timestamp_seconds"]; !ok || v != 1764000000 {
		t.Errorf("last slot: %v", got)
	}
	if v, ok := got["cronguard_slots_missed_total (counter)"]; !ok || v != 5 {
		t.Errorf("slots missed: %v", got)
	}
	got = read("plain")
	if _, ok := got["cronguard_slots_missed_total (counter)"]; ok {
		t.Errorf("a job without a schedule has slot metrics: %v", got)
	}
	if _, ok := got["cronguard_last_slot_timestamp_seconds"]; ok {
		t.Errorf("a job without a schedule has slot metrics: %v", got)
	}
}
