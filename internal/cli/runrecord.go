package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/cronguard/cronguard/lease"
	"github.com/cronguard/cronguard/session"
)

// defaultRunsHistory is how many past runs a record keeps when the config
// does not say: enough for `status` to show a trend, small enough that
// hundreds of jobs stay far below ZooKeeper's 1 MB znode limit.
const defaultRunsHistory = 10

// runEntry is one finished run, as kept in <prefix>/runs/<lock>.
type runEntry struct {
	Host       string    `json:"host"`
	RunID      string    `json:"run_id"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	Exit       int       `json:"exit"`
	DurationMS int64     `json:"duration_ms"`
	StopReason string    `json:"stop_reason,omitempty"`
	// Slot is the scheduled slot the run claimed (run --schedule).
	Slot *time.Time `json:"slot,omitempty"`
	// FailedBeforeStart says why the job never started (not_found,
	// not_executable, config); Error is the error, one line.
	FailedBeforeStart string `json:"failed_before_start,omitempty"`
	Error             string `json:"error,omitempty"`
	runProfile
}

// runProfile is what the job's tree used (run_limits.go: profileOf).
type runProfile struct {
	MaxRSSKB  int64 `json:"max_rss_kb,omitempty"`
	UserCPUMS int64 `json:"user_cpu_ms,omitempty"`
	SysCPUMS  int64 `json:"sys_cpu_ms,omitempty"`
	// PeakMemoryKB is the cgroup's peak where the run had a memory cgroup
	// (PeakMemoryFrom "cgroup"), else the rusage high-water mark ("rusage").
	PeakMemoryKB   int64  `json:"peak_memory_kb,omitempty"`
	PeakMemoryFrom string `json:"peak_memory_from,omitempty"`
}

// runRecord is the JSON of <prefix>/runs/<lock>. Its layout is part of the
// interface: `status --json` and `check` read it, and so may monitoring.
type runRecord struct {
	Lock string `json:"lock"`
	// The ledger of a scheduled job (run --schedule): its schedule, the
	// zone its hosts compute slots in, and the last slot claimed.
	Schedule    string     `json:"schedule,omitempty"`
	TZ          string     `json:"tz,omitempty"`
	LastSlot    *slotClaim `json:"last_slot,omitempty"`
	LastRun     *runEntry  `json:"last_run,omitempty"`
	LastSuccess *runEntry  `json:"last_success,omitempty"`
	LastFailure *runEntry  `json:"last_failure,omitempty"`
	History     []runEntry `json:"history,omitempty"` // newest first
}

// add puts the run that just ended at the head of the record: it is the
// last run, and the last success or failure.
func (r *runRecord) add(e runEntry, keep int) {
	if r.has(e.RunID) {
		return // already there: a write that seemed to fail had happened
	}
	if c := r.LastSlot; c != nil && c.RunID == e.RunID && e.RunID != "" {
		c.Outcome = outcomeFailure
		if e.Exit == 0 {
			c.Outcome = outcomeSuccess
		}
		exit, end := e.Exit, e.End
		c.Exit, c.End = &exit, &end
	}
	r.LastRun = &e
	if e.Exit == 0 {
		r.LastSuccess = &e
	} else {
		r.LastFailure = &e
	}
	r.History = append([]runEntry{e}, r.History...)
	if len(r.History) > keep {
		r.History = r.History[:keep]
	}
}

// addLate adds a run that ended earlier (a spooled entry) where its end
// time puts it: in the history newest first, and as last run, success or
// failure only when it ended after the one there.
func (r *runRecord) addLate(e runEntry, keep int) {
	if r.has(e.RunID) {
		return
	}
	newer := func(cur *runEntry) bool { return cur == nil || e.End.After(cur.End) }
	if newer(r.LastRun) {
		r.LastRun = &e
	}
	if e.Exit == 0 && newer(r.LastSuccess) {
		r.LastSuccess = &e
	} else if e.Exit != 0 && newer(r.LastFailure) {
		r.LastFailure = &e
	}
	i := 0
	for i < len(r.History) && !r.History[i].End.Before(e.End) {
		i++
	}
	r.History = append(r.History[:i], append([]runEntry{e}, r.History[i:]...)...)
	if len(r.History) > keep {
		r.History = r.History[:keep]
	}
}

// has reports whether the run is in the record already. Runs of the same
// job on one host may both add a spooled entry, and a write that timed out
// may still have happened; this keeps each run once (as long as it is
// still in the history).
func (r *runRecord) has(runID string) bool {
	if runID == "" {
		return false
	}
	for _, p := range []*runEntry{r.LastRun, r.LastSuccess, r.LastFailure} {
		if p != nil && p.RunID == runID {
			return true
		}
	}
	for _, h := range r.History {
		if h.RunID == runID {
			return true
		}
	}
	return false
}

// recordRead is one read of a run record.
type recordRead struct {
	data []byte
	stat *zk.Stat
	err  error
	// parsed is data decoded already (by the prefetch, while the job
	// runs), or nil.
	parsed *runRecord
}

// record is the record read: data decoded (an unreadable one starts
// afresh rather than lose this run).
func (r recordRead) record(lockName string) runRecord {
	if r.parsed != nil {
		return *r.parsed
	}
	return parseRunRecord(r.data, lockName)
}

func parseRunRecord(data []byte, lockName string) runRecord {
	rec := runRecord{Lock: lockName}
	if len(data) > 0 {
		if err := json.Unmarshal(data, &rec); err != nil {
			rec = runRecord{Lock: lockName}
		}
	}
	return rec
}

// prefetchRunRecord starts reading the record now, and decodes it, off the
// path to the job's end (decoding took 0.3 ms of the record's 1.1 ms when
// done after the job); writeRunRecord uses the result for its first
// compare-and-set.
func prefetchRunRecord(sess *session.Session, root, lockName string) <-chan recordRead {
	ch := make(chan recordRead, 1)
	go func() {
		var r recordRead
		r.err = sess.Do(func() (err error) { r.data, r.stat, err = sess.Conn().Get(root + "/runs/" + lockName); return err })
		if r.err == nil {
			rec := parseRunRecord(r.data, lockName)
			r.parsed = &rec
		}
		ch <- r
	}()
	return ch
}

// recordBound bounds how long cron's process waits for the record after
// the job ended: writing it, and opening a new session first when the
// run's own is gone. It is not tied to the session timeout T (as it was,
// T/3): T says how long the server keeps a silent session, not how long a
// write takes, and a write that cannot finish in time is not lost any more
// but saved to the spool for the next run. What bounds it is what the wait
// costs: cron's process and, for a locked job, the lock stay held (the
// session closes after the record), so the next run of the job anywhere
// cannot start meanwhile; a job every minute must not lose its slot to
// bookkeeping. 5 s is far below that, and far above what contention needs:
// compare-and-set serializes the writers of one record, each winning
// round is one read and one write (a few ms), so with the randomized
// backoff below hundreds of runs finishing at once all get in (50 took
// well under a second in TestE2E_RecordsUnderContention).
const recordBound = 5 * time.Second

// The pause before retrying a compare-and-set that lost a race: random in
// [0, b) where b doubles from recordBackoffMin up to recordBackoffMax
// ("full jitter"), so racing writers spread out instead of colliding again.
const (
	recordBackoffMin = 2 * time.Millisecond
	recordBackoffMax = 128 * time.Millisecond
)

func recordBackoff(attempt int) time.Duration {
	b := recordBackoffMax
	if attempt < 7 {
		b = min(recordBackoffMin<<attempt, recordBackoffMax)
	}
	return time.Duration(rand.Int64N(int64(b)))
}

// writeRunRecord adds entry, and the spooled entries late, to the lock's
// record with compare-and-set, so concurrent writers never lose each
// other's runs: on every lost race it re-reads the record and tries again,
// after a random pause, until ctx ends. It returns an error the server did
// not answer (the link is down) at once. Its failure never changes the
// job's exit code.
func writeRunRecord(ctx context.Context, sess *session.Session, root, lockName string, entry runEntry, late []runEntry,
	keep int, acl []zk.ACL, prefetched <-chan recordRead) error {
	if keep <= 0 {
		keep = defaultRunsHistory
	}
	conn := sess.Conn()
	p := root + "/runs/" + lockName
	do := func(req func() error) error { return sess.DoCtx(ctx, req) }
	build := func(rec runRecord) []byte {
		for _, e := range late {
			rec.addLate(e, keep)
		}
		rec.add(entry, keep)
		out, _ := json.Marshal(rec)
		return out
	}
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			t := time.NewTimer(recordBackoff(attempt - 1))
			select {
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("%s: still racing other writers after %d attempts: %w", p, attempt, ctx.Err())
			case <-t.C:
			}
		}
		var r recordRead
		if prefetched != nil {
			pre := prefetched
			prefetched = nil // one use: it is stale after the first attempt
			select {
			case r = <-pre:
			case <-ctx.Done():
				return fmt.Errorf("reading %s: %w", p, ctx.Err())
			}
		}
		if r.stat == nil && (r.err == nil || !errors.Is(r.err, zk.ErrNoNode)) {
			// No prefetch, or it failed (a blip at the job's start): read now.
			r = recordRead{}
			r.err = do(func() (err error) { r.data, r.stat, err = conn.Get(p); return err })
		}
		st, err := r.stat, r.err
		switch {
		case errors.Is(err, zk.ErrNoNode):
			out := build(runRecord{Lock: lockName})
			err = createRecord(do, conn, root, p, out, acl)
			if errors.Is(err, zk.ErrNodeExists) {
				continue // another host created it first: read it
			}
			return err
		case err != nil:
			if !session.Answered(err) {
				return err // the link is down: the caller tries a new session
			}
			return fmt.Errorf("reading %s: %w", p, err)
		}
		out := build(r.record(lockName))
		err = do(func() error { _, err := conn.Set(p, out, st.Version); return err })
		if errors.Is(err, zk.ErrBadVersion) {
			continue
		}
		return err
	}
}

// writeRecord writes the run's entry and the spooled ones within ctx. When
// the run's session cannot carry the write (it ended: fence, expiry; or
// its link is down), or loses its link during the write, a new session is
// opened for it (Dial is bounded by connect_timeout and ctx). Only the
// failed runs pay for that; the normal path sends no extra request.
func (e *runEnv) writeRecord(ctx context.Context, sess *session.Session, entry runEntry, late []runEntry, prefetched <-chan recordRead) error {
	write := func(s *session.Session, pre <-chan recordRead) error {
		return writeRunRecord(ctx, s, e.st.root, e.lockName, entry, late, e.st.local.RunsHistory, e.nodeACL(), pre)
	}
	why := "the run's session is gone"
	if sess != nil && sess.Err() == nil && sess.Connected() {
		err := write(sess, prefetched)
		if err == nil || session.Answered(err) || ctx.Err() != nil {
			return err
		}
		why = "the link to ZooKeeper went down (" + err.Error() + ")"
	} else if sess != nil && sess.Err() == nil {
		why = "the link to ZooKeeper is down"
	}
	e.log.Info().Str("event", "zk").Str("why", why).Msg("opening a new session to write the run record")
	fresh, err := e.dial(ctx)
	if err != nil {
		return fmt.Errorf("%s and no new session: %w", why, err)
	}
	defer fresh.Close()
	return write(fresh, nil)
}

// createRecord creates the record p with data, and <root>/runs first when
// it is missing. ErrNodeExists means another host created p first.
func createRecord(do func(func() error) error, conn *zk.Conn, root, p string, data []byte, acl []zk.ACL) error {
	err := do(func() error { return createRecordNode(conn, root, p, data, acl) })
	if !errors.Is(err, zk.ErrNoNode) {
		return err
	}
	err = do(func() error { return createRecordNode(conn, root, root+"/runs", nil, acl) })
	if err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return fmt.Errorf("creating %s/runs: %w", root, err)
	}
	return do(func() error { return createRecordNode(conn, root, p, data, acl) })
}

// createRecordNode creates the record or the runs directory: a persistent
// node that every host running the job writes, so it admits the
// operator's and the workers' credentials too (lease.ChildACL), not only
// the credential of the run that made it.
func createRecordNode(conn *zk.Conn, root, p string, data []byte, acl []zk.ACL) error {
	nacl, err := lease.ChildACL(conn, root, acl)
	if err == nil {
		_, err = conn.Create(p, data, 0, nacl)
	}
	return err
}
