package cli

import (
	"encoding/json"
	"errors"
	"fmt"
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
}

// runRecord is the JSON of <prefix>/runs/<lock>. Its layout is part of the
// interface: `status --json` and `check` read it, and so may monitoring.
type runRecord struct {
	Lock        string     `json:"lock"`
	LastRun     *runEntry  `json:"last_run,omitempty"`
	LastSuccess *runEntry  `json:"last_success,omitempty"`
	LastFailure *runEntry  `json:"last_failure,omitempty"`
	History     []runEntry `json:"history,omitempty"` // newest first
}

func (r *runRecord) add(e runEntry, keep int) {
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

// recordRead is one read of a run record.
type recordRead struct {
	data []byte
	stat *zk.Stat
	err  error
}

// prefetchRunRecord starts reading the record now; writeRunRecord uses the
// result for its first compare-and-set.
func prefetchRunRecord(sess *session.Session, root, lockName string) <-chan recordRead {
	ch := make(chan recordRead, 1)
	go func() {
		var r recordRead
		r.err = sess.Do(func() (err error) { r.data, r.stat, err = sess.Conn().Get(root + "/runs/" + lockName); return err })
		ch <- r
	}()
	return ch
}

// recordAttempts bounds the compare-and-set retries when hosts finishing
// the same job race to write its record; each retry re-reads it.
const recordAttempts = 5

// writeRunRecord adds entry to the lock's record with compare-and-set, so
// concurrent writers never lose each other's runs. Its failure is logged by
// the caller and never changes the job's exit code.
func writeRunRecord(sess *session.Session, root, lockName string, entry runEntry, keep int, acl []zk.ACL, prefetched <-chan recordRead) error {
	if keep <= 0 {
		keep = defaultRunsHistory
	}
	conn := sess.Conn()
	p := root + "/runs/" + lockName
	for attempt := 0; attempt < recordAttempts; attempt++ {
		var data []byte
		var st *zk.Stat
		var err error
		if attempt == 0 && prefetched != nil {
			r := <-prefetched
			data, st, err = r.data, r.stat, r.err
		} else {
			err = sess.Do(func() (err error) { data, st, err = conn.Get(p); return err })
		}
		rec := runRecord{Lock: lockName}
		switch {
		case errors.Is(err, zk.ErrNoNode):
			rec.add(entry, keep)
			out, _ := json.Marshal(rec)
			err = sess.Do(func() error { return createRecordNode(conn, root, p, out, acl) })
			if errors.Is(err, zk.ErrNoNode) {
				err = sess.Do(func() error { return createRecordNode(conn, root, root+"/runs", nil, acl) })
				if err != nil && !errors.Is(err, zk.ErrNodeExists) {
					return fmt.Errorf("creating %s/runs: %w", root, err)
				}
				continue
			}
			if errors.Is(err, zk.ErrNodeExists) {
				continue
			}
			return err
		case err != nil:
			if !session.Answered(err) {
				return err // the connection is down; retrying would only wait
			}
			return fmt.Errorf("reading %s: %w", p, err)
		}
		if len(data) > 0 {
			if err := json.Unmarshal(data, &rec); err != nil {
				rec = runRecord{Lock: lockName} // unreadable: start afresh rather than lose this run
			}
		}
		rec.add(entry, keep)
		out, _ := json.Marshal(rec)
		err = sess.Do(func() error { _, err := conn.Set(p, out, st.Version); return err })
		if errors.Is(err, zk.ErrBadVersion) {
			continue
		}
		return err
	}
	return fmt.Errorf("%s kept changing: gave up after %d attempts", p, recordAttempts)
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
