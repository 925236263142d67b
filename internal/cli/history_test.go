package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// historyRecord is a run record as the runs write it: newest first, a
// slotted run, a run stopped by unassign, and (from a newer writer) peak
// memory and CPU on the newest entry only.
const historyRecord = `{"lock":"nightly","last_run":{"host":"box-a"},
 "history":[
  {"host":"box-a","run_id":"r4","start":"2026-11-24T11:00:00Z","end":"2026-11-24T11:01:00Z","exit":0,"duration_ms":60000,"slot":"2026-11-24T11:00:00Z","max_rss_kb":204800,"user_cpu_ms":12500,"sys_cpu_ms":250,"future_field":"kept"},
  {"host":"box-b","run_id":"r3","start":"2026-11-24T10:00:00Z","end":"2026-11-24T10:00:01.5Z","exit":143,"duration_ms":1500,"stop_reason":"ineligible"},
  {"host":"box-a","run_id":"r2","start":"2026-11-24T09:00:00Z","end":"2026-11-24T09:00:00.02Z","exit":3,"duration_ms":20}
 ]}`

func TestHistoryGolden(t *testing.T) {
	_, entries, err := parseHistory([]byte(historyRecord))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := renderHistory(&buf, "nightly", entries); err != nil {
		t.Fatal(err)
	}
	// An older record: no slot, no resource columns.
	if err := renderHistory(&buf, "nightly", entries[1:]); err != nil {
		t.Fatal(err)
	}
	if err := renderHistory(&buf, "empty", nil); err != nil {
		t.Fatal(err)
	}
	golden(t, "history.golden", buf.Bytes())
}

// TestHistoryJSON: --json is {"lock", "runs": [entries as stored]},
// newest first, fields this version does not know passed through, cut to
// --limit.
func TestHistoryJSON(t *testing.T) {
	raw, _, err := parseHistory([]byte(historyRecord))
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(historyOutput{Lock: "nightly", Runs: raw[:2]})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Lock string           `json:"lock"`
		Runs []map[string]any `json:"runs"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if got.Lock != "nightly" || len(got.Runs) != 2 || got.Runs[0]["run_id"] != "r4" || got.Runs[1]["run_id"] != "r3" {
		t.Fatalf("history --json: %s", out)
	}
	for _, k := range []string{"host", "start", "end", "exit", "duration_ms", "slot", "max_rss_kb", "user_cpu_ms", "sys_cpu_ms", "future_field"} {
		if _, ok := got.Runs[0][k]; !ok {
			t.Errorf("history --json lacks %q: %s", k, out)
		}
	}
	if got.Runs[1]["stop_reason"] != "ineligible" {
		t.Errorf("stop_reason: %s", out)
	}
	// A record with no history shows its last run; an empty one, [] not null.
	raw, _, _ = parseHistory([]byte(`{"lock":"x","last_run":{"host":"h","exit":1}}`))
	if len(raw) != 1 || !strings.Contains(string(raw[0]), `"h"`) {
		t.Errorf("last_run fallback: %s", raw)
	}
	raw, _, _ = parseHistory([]byte(`{"lock":"x"}`))
	if out, _ := json.Marshal(historyOutput{Runs: raw}); !strings.Contains(string(out), `"runs":[]`) {
		t.Errorf("empty record: %s", out)
	}
}
