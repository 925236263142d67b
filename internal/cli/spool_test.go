package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/rs/zerolog"

	"github.com/cronguard/cronguard/config"
	"github.com/cronguard/cronguard/internal/zktest"
	"github.com/cronguard/cronguard/session"
)

func testEntry(id string, end time.Time, exit int) runEntry {
	return runEntry{Host: "box1", RunID: id, Start: end.Add(-time.Second), End: end, Exit: exit, DurationMS: 1000}
}

func TestSpoolSaveReadRemove(t *testing.T) {
	state := t.TempDir()
	sp := newSpool(state, "/p", "job")
	if p, err := sp.pending(); err != nil || len(p.entries)+len(p.files)+len(p.bad) != 0 {
		t.Fatalf("empty spool: %+v, %v", p, err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	a, b := testEntry("aaaa", now.Add(-time.Minute), 0), testEntry("bbbb", now, 143)
	b.StopReason = "fence"
	for _, e := range []runEntry{a, b} {
		path, err := sp.save(e)
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join(state, "unrecorded", "job", e.RunID+".json"); path != want {
			t.Errorf("saved to %s, want %s", path, want)
		}
	}
	// Another prefix's entry under the same lock, a temp file and junk.
	if _, err := newSpool(state, "/other", "job").save(testEntry("cccc", now, 0)); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(state, "unrecorded", "job")
	os.WriteFile(filepath.Join(dir, ".tmp-123"), []byte("{"), 0o644)
	os.WriteFile(filepath.Join(dir, "junk.json"), []byte("not json"), 0o644)

	p, err := sp.pending()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]runEntry{}
	for _, e := range p.entries {
		got[e.RunID] = e
	}
	if len(got) != 2 || !got["aaaa"].End.Equal(a.End) || got["bbbb"].StopReason != "fence" {
		t.Errorf("pending entries = %+v, want aaaa and bbbb", p.entries)
	}
	if len(p.bad) != 1 || filepath.Base(p.bad[0]) != "junk.json" {
		t.Errorf("bad = %v, want junk.json", p.bad)
	}
	if err := sp.remove(append(p.files, p.files...)); err != nil { // twice: gone is fine
		t.Fatal(err)
	}
	left, _ := os.ReadDir(dir)
	var names []string
	for _, d := range left {
		names = append(names, d.Name())
	}
	if strings.Join(names, " ") != ".tmp-123 cccc.json junk.json" {
		t.Errorf("left %v, want the other prefix's entry, the temp file and the junk", names)
	}
}

func TestSpoolDirName(t *testing.T) {
	for in, want := range map[string]string{"job": "job", "..": "_..", ".hidden": "_.hidden", "a/b c": "a_b_c", "": "_"} {
		if got := spoolDirName(in); got != want {
			t.Errorf("spoolDirName(%q) = %q, want %q", in, got, want)
		}
	}
}

// BenchmarkSpoolPendingEmpty is what the normal path pays: no spool
// directory for the lock.
func BenchmarkSpoolPendingEmpty(b *testing.B) {
	sp := newSpool(b.TempDir(), "/p", "job")
	for i := 0; i < b.N; i++ {
		if _, err := sp.pending(); err != nil {
			b.Fatal(err)
		}
	}
}

func TestRunRecordAddLateAndDedup(t *testing.T) {
	now := time.Now().UTC()
	var r runRecord
	r.add(testEntry("new", now, 0), 10)
	r.addLate(testEntry("old-fail", now.Add(-2*time.Minute), 1), 10)
	r.addLate(testEntry("mid", now.Add(-time.Minute), 0), 10)
	r.add(testEntry("new", now, 0), 10)     // a write that seemed to fail had happened
	r.addLate(testEntry("mid", now, 0), 10) // two runs folded the same spool file
	var ids []string
	for _, h := range r.History {
		ids = append(ids, h.RunID)
	}
	if strings.Join(ids, " ") != "new mid old-fail" {
		t.Errorf("history %v, want new mid old-fail (newest first, each once)", ids)
	}
	if r.LastRun.RunID != "new" || r.LastSuccess.RunID != "new" || r.LastFailure.RunID != "old-fail" {
		t.Errorf("last run/success/failure = %s/%s/%s", r.LastRun.RunID, r.LastSuccess.RunID, r.LastFailure.RunID)
	}
	r.addLate(testEntry("newest-late", now.Add(time.Second), 2), 3)
	if r.LastRun.RunID != "newest-late" || r.LastFailure.RunID != "newest-late" || len(r.History) != 3 || r.History[0].RunID != "newest-late" {
		t.Errorf("a late entry that ended last: %+v", r)
	}
}

// recordEnv is a runEnv with just what recordRun needs.
func recordEnv(t *testing.T, servers []string, stateDir string) *runEnv {
	t.Helper()
	l := config.DefaultLocal()
	l.Servers, l.ConnectTimeout, l.SessionTimeout = servers, 300*time.Millisecond, 4*time.Second
	l.StateDir, l.MetricsDir, l.RunsHistory = stateDir, t.TempDir(), 50
	return &runEnv{o: &runOptions{group: "g"}, st: &settings{local: l, root: "/rec", hostname: "box1"},
		lockName: "job", log: zerolog.Nop()}
}

func unrecordedCount(t *testing.T, e *runEnv) string {
	t.Helper()
	data, _ := os.ReadFile(filepath.Join(e.st.local.MetricsDir, "cronguard_job.prom"))
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "cronguard_runs_unrecorded_total{") {
			return line[strings.LastIndexByte(line, ' ')+1:]
		}
	}
	return ""
}

// An unreachable ZooKeeper: the entry is saved to the spool; with a state
// dir that cannot be written, the run is counted as unrecorded instead.
func TestRecordRunSpoolsOrCountsUnrecorded(t *testing.T) {
	unreachable := []string{"127.0.0.1:1"}
	state := t.TempDir()
	e := recordEnv(t, unreachable, state)
	entry := testEntry("run1", time.Now().UTC(), 0)
	e.recordRun(nil, entry, nil)
	if _, err := os.Stat(filepath.Join(state, "unrecorded", "job", "run1.json")); err != nil {
		t.Errorf("entry not spooled: %v", err)
	}
	if n := unrecordedCount(t, e); n != "" && n != "0" {
		t.Errorf("a spooled run counted as unrecorded: %s", n)
	}

	blocker := filepath.Join(t.TempDir(), "file")
	os.WriteFile(blocker, nil, 0o644)
	e = recordEnv(t, unreachable, filepath.Join(blocker, "state")) // not a directory, even for root
	e.recordRun(nil, testEntry("run2", time.Now().UTC(), 0), nil)
	e.recordRun(nil, testEntry("run3", time.Now().UTC(), 0), nil)
	if n := unrecordedCount(t, e); n != "2" {
		t.Errorf("cronguard_runs_unrecorded_total = %q, want 2", n)
	}
}

// With a real ZooKeeper: a run whose session is gone writes its record
// with a new session, and adds what earlier runs spooled in the same write.
func TestIntegration_RecordRunNewSessionFoldsSpool(t *testing.T) {
	srv := zktest.StartServer(t)
	servers := []string{srv.Addr()}
	conn, _, err := zk.Connect(servers, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Create("/rec", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	e := recordEnv(t, servers, state)
	now := time.Now().UTC()
	spooledEntry := testEntry("fenced", now.Add(-time.Minute), 137)
	spooledEntry.StopReason = "fence"
	if _, err := newSpool(state, "/rec", "job").save(spooledEntry); err != nil {
		t.Fatal(err)
	}

	sess, err := session.Dial(context.Background(), servers, session.WithConnectTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	sess.Close() // gone, as after an expiry
	e.recordRun(sess, testEntry("this", now, 0), nil)

	data, _, err := conn.Get("/rec/runs/job")
	if err != nil {
		t.Fatalf("no record: %v", err)
	}
	var rec runRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatal(err)
	}
	if len(rec.History) != 2 || rec.History[0].RunID != "this" || rec.History[1].RunID != "fenced" || rec.History[1].StopReason != "fence" {
		t.Errorf("history %+v, want this, then the spooled fenced run", rec.History)
	}
	if rec.LastRun.RunID != "this" || rec.LastFailure == nil || rec.LastFailure.RunID != "fenced" {
		t.Errorf("last run %+v, last failure %+v", rec.LastRun, rec.LastFailure)
	}
	if left, _ := os.ReadDir(filepath.Join(state, "unrecorded", "job")); len(left) != 0 {
		t.Errorf("spool not emptied: %d files", len(left))
	}
}
