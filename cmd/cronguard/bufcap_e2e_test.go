package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/cronguard/cronguard/config"
)

// TestE2E_LargestFleetConfigAndRunRecord: the session's receive buffer is
// capped (issue 16: no garbage collection in a guarded run), yet a run
// still reads the largest fleet config operator commands write
// (config.MaxFleetSize, allowed with no_switchman) and a run record of
// 1000 runs with long fields, and writes the record back. Real ZooKeeper.
func TestE2E_LargestFleetConfigAndRunRecord(t *testing.T) {
	e := newEnv(t)
	head, tail := `{"groups": {"g": "box1", "big": ["`, `"]}}`
	var b strings.Builder
	for i := 0; b.Len() < config.MaxFleetSize-len(head)-len(tail)-64; i++ {
		if i > 0 {
			b.WriteString(`", "`)
		}
		fmt.Fprintf(&b, "host%06d.a-rather-long-domain-name.example.com", i)
	}
	fleet := head + b.String() + tail
	if len(fleet) > config.MaxFleetSize || len(fleet) < config.MaxFleetSize-1024 {
		t.Fatalf("fleet config of %d bytes, want just under %d", len(fleet), config.MaxFleetSize)
	}
	e.writeFleet(fleet)

	// A record of 1000 runs (runs_history's most), long host names.
	type entry struct {
		Host       string    `json:"host"`
		RunID      string    `json:"run_id"`
		Start      time.Time `json:"start"`
		End        time.Time `json:"end"`
		Exit       int       `json:"exit"`
		DurationMS int64     `json:"duration_ms"`
		StopReason string    `json:"stop_reason,omitempty"`
	}
	var hist []entry
	t0 := time.Now().Add(-time.Hour).UTC()
	for i := range 1000 {
		hist = append(hist, entry{Host: fmt.Sprintf("h%04d.%s", i, strings.Repeat("x", 300)), RunID: fmt.Sprintf("old-%04d", i),
			Start: t0.Add(time.Duration(i) * time.Second), End: t0.Add(time.Duration(i)*time.Second + time.Millisecond), DurationMS: 1})
	}
	rec, err := json.Marshal(map[string]any{"history": hist})
	if err != nil {
		t.Fatal(err)
	}
	if len(rec) < 300_000 {
		t.Fatalf("run record of only %d bytes", len(rec))
	}
	for _, p := range []string{e.prefix + "/runs", e.prefix + "/runs/big"} {
		if _, err := e.conn.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			t.Fatal(err)
		}
	}
	if _, err := e.conn.Set(e.prefix+"/runs/big", rec, -1); err != nil {
		t.Fatal(err)
	}

	cfg := filepath.Join(e.dir, "big.json")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`{"zkhosts": %q, "prefix": %q, "runs_history": 1000, "no_switchman": true}`, e.zkAddr, e.prefix)), 0o644); err != nil {
		t.Fatal(err)
	}
	p := e.startWithConfig(cfg, "box1", "run", "--group", "g", "--lock", "big", "--", "true")
	if code := p.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("guarded run with a %d-byte fleet config and a %d-byte run record: exit %d\nstderr: %s\nlog: %s",
			len(fleet), len(rec), code, p.stderr.String(), p.logText())
	}
	got := e.readRecord("big")
	if got.LastRun == nil || got.LastRun.RunID != runIDOf(t, p) {
		t.Fatalf("the run is not the record's last run: %+v", got.LastRun)
	}
	if n := len(got.History); n != 1000 {
		t.Errorf("history of %d runs, want 1000 (the oldest dropped, ours added)", n)
	}
}
