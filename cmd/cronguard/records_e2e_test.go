package main

// Run records lose nothing: every run that started ends up in its lock's
// record, under contention and after a partition.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cronguard/cronguard/internal/zktest"
)

// recordConfig writes a local config for run-record tests: a state_dir and
// a metrics_dir of the test's own, runs_history 200.
func (e *env) recordConfig(name, zk string, sessionTimeout time.Duration) (cfg, stateDir, metricsDir string) {
	e.t.Helper()
	stateDir = filepath.Join(e.dir, "state")
	metricsDir = filepath.Join(e.dir, "metrics")
	if err := os.MkdirAll(metricsDir, 0o755); err != nil {
		e.t.Fatal(err)
	}
	cfg = filepath.Join(e.dir, name)
	body := fmt.Sprintf(`{"zkhosts": %q, "prefix": %q, "session_timeout": %g, "connect_timeout": 3,
"runs_history": 200, "state_dir": %q, "metrics_dir": %q}`,
		zk, e.prefix, sessionTimeout.Seconds(), stateDir, metricsDir)
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return cfg, stateDir, metricsDir
}

// e2eRecord is the part of <prefix>/runs/<lock> these tests read.
type e2eRecord struct {
	LastRun *struct {
		RunID string `json:"run_id"`
	} `json:"last_run"`
	History []struct {
		Host       string `json:"host"`
		RunID      string `json:"run_id"`
		StopReason string `json:"stop_reason"`
	} `json:"history"`
}

func (e *env) readRecord(lockName string) e2eRecord {
	e.t.Helper()
	data, _, err := e.conn.Get(e.prefix + "/runs/" + lockName)
	if err != nil {
		e.t.Fatalf("reading the run record: %v", err)
	}
	var rec e2eRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		e.t.Fatalf("run record %s: %v", data, err)
	}
	return rec
}

func runIDOf(t *testing.T, p *proc) string {
	t.Helper()
	id, _ := p.mustEvent(t, "start")["run_id"].(string)
	if id == "" {
		t.Fatalf("start event without run_id:\n%s", p.logText())
	}
	return id
}

// TestE2E_RecordsUnderContention: 50 --no-lock runs of one lock, from 5
// host names, finish at once; every one of them is in the history.
func TestE2E_RecordsUnderContention(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(fleetAB)
	cfg, stateDir, _ := e.recordConfig("burst.json", e.zkAddr, 10*time.Second)
	const n, hosts = 50, 5
	started := filepath.Join(e.dir, "started")
	if err := os.Mkdir(started, 0o755); err != nil {
		t.Fatal(err)
	}
	gate := filepath.Join(e.dir, "go")
	job := e.script("burst", fmt.Sprintf("touch %s/$$\nwhile [ ! -e %s ]; do sleep 0.01; done\n", started, gate))
	procs := make([]*proc, n)
	for i := range procs {
		procs[i] = e.startWithConfig(cfg, fmt.Sprintf("host%d", i%hosts), "run", "--no-lock", "--lock", "burst", "--", job)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		ents, _ := os.ReadDir(started)
		if len(ents) == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d jobs started", len(ents), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Every job is running: let them all finish at once.
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	released := time.Now()
	var mu sync.Mutex
	var waits []time.Duration
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.wait(t, 60*time.Second)
			mu.Lock()
			waits = append(waits, time.Since(released))
			mu.Unlock()
		}()
	}
	wg.Wait()
	sort.Slice(waits, func(i, j int) bool { return waits[i] < waits[j] })
	t.Logf("%d runs finishing at once: all exited within %v of the release (median %v)", n, waits[n-1], waits[n/2])

	var took []time.Duration
	for _, p := range procs {
		for _, line := range strings.Split(p.logText(), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["message"] == "run record written" {
				if ms, ok := m["took_ms"].(float64); ok {
					took = append(took, time.Duration(ms*float64(time.Millisecond)))
				}
			}
		}
	}
	if len(took) > 0 {
		sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
		t.Logf("record write after the job: median %v, max %v (%d runs)", took[len(took)/2], took[len(took)-1], len(took))
	}

	rec := e.readRecord("burst")
	inHistory := map[string]bool{}
	for _, h := range rec.History {
		inHistory[h.RunID] = true
	}
	missing := 0
	for _, p := range procs {
		if p.code != 0 {
			t.Errorf("exit %d: %s", p.code, p.stderr.String())
		}
		if !inHistory[runIDOf(t, p)] {
			missing++
		}
		if strings.Contains(p.stderr.String(), "run record") {
			t.Errorf("a run warned about its record: %s", p.stderr.String())
		}
	}
	t.Logf("%d of %d runs in the history (%d entries)", n-missing, n, len(rec.History))
	if missing > 0 {
		t.Errorf("%d of %d runs missing from the history", missing, n)
	}
	if ents, _ := os.ReadDir(filepath.Join(stateDir, "unrecorded", "burst")); len(ents) > 0 {
		t.Errorf("%d runs left in the spool", len(ents))
	}
}

// TestE2E_FencedRunIsRecorded: a run stopped by the fence while its host is
// cut off cannot write its record; once contact returns, the host's next
// run of the job adds it (run id, stop reason fence), and nothing is
// counted as unrecorded.
func TestE2E_FencedRunIsRecorded(t *testing.T) {
	srv, e := isolatedEnv(t)
	px, err := zktest.NewProxy(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	const T = 1500 * time.Millisecond
	cfg, stateDir, metricsDir := e.recordConfig("fenced.json", px.Addr(), T)
	job, childFile, gcFile, _ := e.longJob("fenced")
	a := e.startWithConfig(cfg, "hostA", "run", "-g", "g", "--lock", "fenced", "--", job)
	child, gc := jobPids(t, childFile, gcFile)
	fencedID := runIDOf(t, a)

	px.Blackhole()
	died, ok := deathWatch([]int{child, gc}, 3*T)
	if !ok {
		t.Fatalf("job alive 3T into the partition; log:\n%s", a.logText())
	}
	if code := a.wait(t, 30*time.Second); code != 143 && code != 137 {
		t.Errorf("fenced run exit %d, want 143 or 137", code)
	}
	t.Logf("the fenced run exited %v after its job died", time.Since(died).Round(time.Millisecond))
	if stop := a.mustEvent(t, "stop"); stop["reason"] != "fence" {
		t.Fatalf("stop reason %v, want fence", stop["reason"])
	}
	spooled, _ := filepath.Glob(filepath.Join(stateDir, "unrecorded", "fenced", "*.json"))
	t.Logf("the fenced run exited with %d entries spooled", len(spooled))

	px.Heal()
	next := e.script("next", "exit 0\n")
	b := e.startWithConfig(cfg, "hostA", "run", "-g", "g", "--lock", "fenced", "--wait", "20s", "--", next)
	if code := b.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("next run exit %d: %s", code, b.stderr.String())
	}
	nextID := runIDOf(t, b)

	rec := e.readRecord("fenced")
	found := false
	for _, h := range rec.History {
		if h.RunID == fencedID {
			found = true
			if h.StopReason != "fence" {
				t.Errorf("fenced run recorded with stop_reason %q, want fence", h.StopReason)
			}
		}
	}
	if !found {
		t.Errorf("the fenced run %s is not in the record: %+v", fencedID, rec.History)
	}
	if rec.LastRun == nil || rec.LastRun.RunID != nextID {
		t.Errorf("last_run = %+v, want the next run %s", rec.LastRun, nextID)
	}
	if left, _ := filepath.Glob(filepath.Join(stateDir, "unrecorded", "fenced", "*.json")); len(left) > 0 {
		t.Errorf("spool not emptied: %v", left)
	}
	prom, _ := os.ReadFile(filepath.Join(metricsDir, "cronguard_fenced.prom"))
	for _, line := range strings.Split(string(prom), "\n") {
		if strings.HasPrefix(line, "cronguard_runs_unrecorded_total{") && !strings.HasSuffix(line, " 0") {
			t.Errorf("runs counted as unrecorded: %s", line)
		}
	}
}
