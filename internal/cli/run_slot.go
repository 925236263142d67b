package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/rs/zerolog"

	"github.com/cronguard/cronguard/schedule"
)

// reasonAlreadyRan: the run's slot (or a later one) was claimed already,
// by another host's run of the same cron line or an earlier run here.
const reasonAlreadyRan = "already_ran"

// slotClaim is the ledger's last claimed slot, in the run record.
type slotClaim struct {
	Slot    time.Time  `json:"slot"`
	Host    string     `json:"host"`
	RunID   string     `json:"run_id"`
	Claimed time.Time  `json:"claimed"`
	Outcome string     `json:"outcome"` // running, success, failure
	Exit    *int       `json:"exit,omitempty"`
	End     *time.Time `json:"end,omitempty"`
}

// Outcomes of a claimed slot.
const (
	outcomeRunning = "running"
	outcomeSuccess = "success"
	outcomeFailure = "failure"
)

// parseSchedule reads --schedule and fixes the run's slot: before any
// splay or wait, so that a run that starts late still runs the slot cron
// started it for.
func (e *runEnv) parseSchedule(now time.Time) error {
	if e.o.schedule == "" {
		return nil
	}
	s, err := schedule.Parse(e.o.schedule)
	if err != nil {
		return fmt.Errorf("--schedule %q: %w", e.o.schedule, err)
	}
	if err := schedule.CheckTolerance(s, schedule.DefaultTolerance); err != nil {
		return fmt.Errorf("--schedule: %w", err)
	}
	e.sched = s
	e.slot = s.Slot(now, schedule.DefaultTolerance)
	e.slotAt = now
	return nil
}

// claimSlot claims the run's slot in the run record before the job starts:
// a compare-and-set of last_slot, so that of all the hosts whose cron fired
// the same line for the same slot exactly one starts the job. A record
// whose last_slot is this slot or a later one means the run skips
// (already_ran). The record read with the fleet config (e.record) serves
// the first try; a lost race reads it again. The claim's result is what
// the final write starts from, so it needs no read of its own.
func (e *runEnv) claimSlot(ctx context.Context) error {
	if e.sched == nil {
		return nil
	}
	sess := e.session()
	conn := sess.Conn()
	p := e.recordPath()
	ctx, cancel := context.WithTimeout(ctx, sess.ConnectTimeout()+sess.Timeout())
	defer cancel()
	pre := e.record
	for attempt := 0; ; attempt++ {
		var r recordRead
		if pre != nil {
			select {
			case r = <-pre:
			case <-ctx.Done():
				return e.claimFailed(ctx.Err())
			}
			pre = nil
		} else {
			if attempt > 1 {
				t := time.NewTimer(recordBackoff(attempt - 2))
				select {
				case <-ctx.Done():
					t.Stop()
					return e.claimFailed(ctx.Err())
				case <-t.C:
				}
			}
			r.err = sess.DoCtx(ctx, func() (err error) { r.data, r.stat, err = conn.Get(p); return err })
		}
		rec := runRecord{Lock: e.lockName}
		switch {
		case errors.Is(r.err, zk.ErrNoNode):
			r.stat = nil
		case r.err != nil:
			return e.claimFailed(r.err)
		default:
			rec = r.record(e.lockName) // unreadable: start afresh rather than never run
		}
		if c := rec.LastSlot; c != nil && !slotBefore(c.Slot, e.slot) {
			return e.skip(reasonAlreadyRan, func(ev *zerolog.Event) *zerolog.Event {
				return ev.Time("slot", e.slot).Time("claimed_slot", c.Slot).Str("claimed_by", c.Host).Str("claimed_run_id", c.RunID)
			})
		}
		prev := rec.LastSlot
		rec.Schedule = e.o.schedule
		rec.TZ = localZoneName()
		rec.LastSlot = &slotClaim{Slot: e.slot, Host: e.st.hostname, RunID: e.runID, Claimed: time.Now().UTC(), Outcome: outcomeRunning}
		out, _ := json.Marshal(rec)
		var st *zk.Stat
		var err error
		if r.stat == nil {
			err = createRecord(e.doCtx(ctx), conn, e.st.root, p, out, e.nodeACL())
			if err == nil {
				st = &zk.Stat{Version: 0} // a new node's; Create returns no stat
			}
		} else {
			err = sess.DoCtx(ctx, func() (err error) { st, err = conn.Set(p, out, r.stat.Version); return err })
		}
		switch {
		case err == nil:
			ch := make(chan recordRead, 1)
			ch <- recordRead{data: out, stat: st, parsed: &rec}
			e.record = ch
			e.slotsMissed = e.missedSince(prev)
			e.log.Debug().Time("slot", e.slot).Int("slots_missed", e.slotsMissed).Msg("slot claimed")
			return nil
		case errors.Is(err, zk.ErrBadVersion), errors.Is(err, zk.ErrNodeExists):
			continue // another host wrote first: read again, maybe it claimed our slot
		default:
			return e.claimFailed(err)
		}
	}
}

// missedSince counts the slots between the previous claim and this run's
// slot: no run claimed them anywhere in the fleet, or the claims would not
// have moved past them. It reads only the record the claim read, so the
// metrics count missed slots at no extra request; each miss is counted
// once, by the run that claims the next slot.
func (e *runEnv) missedSince(prev *slotClaim) int {
	if prev == nil {
		return 0
	}
	slots := e.sched.Between(prev.Slot, e.slotAt.Add(schedule.DefaultTolerance), maxSlotsCounted)
	n := len(slots)
	if n > 0 && schedule.Key(slots[n-1]) == schedule.Key(e.slot) {
		n-- // this run's own slot
	}
	return n
}

func (e *runEnv) claimFailed(err error) error {
	if err = e.waitFailed(err); errors.As(err, new(*exitError)) {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("no answer from ZooKeeper")
	}
	return fmt.Errorf("claiming slot %s in %s: %w", schedule.Key(e.slot), e.recordPath(), err)
}

// doCtx runs requests in the run's session, bounded by ctx.
func (e *runEnv) doCtx(ctx context.Context) func(func() error) error {
	sess := e.session()
	return func(req func() error) error { return sess.DoCtx(ctx, req) }
}

func (e *runEnv) recordPath() string { return e.st.root + "/runs/" + e.lockName }

// localZoneName is the IANA name of the host's zone, stored with the
// ledger so that `check` and `status` on another host compute this job's
// slots as its hosts do: TZ, else what /etc/localtime points to.
func localZoneName() string {
	if tz := os.Getenv("TZ"); tz != "" {
		return strings.TrimPrefix(tz, ":")
	}
	if p, err := filepath.EvalSymlinks("/etc/localtime"); err == nil {
		if i := strings.Index(p, "zoneinfo/"); i >= 0 {
			return p[i+len("zoneinfo/"):]
		}
	}
	return "UTC"
}

// registerJob makes a scheduled job known to `check --all` before it ever
// ran: a host that skips it as ineligible writes the ledger's stub (lock,
// schedule, zone) when the record read with the fleet config found none.
// That happens once per job; every later skip costs nothing more.
func (e *runEnv) registerJob(ctx context.Context) {
	if e.sched == nil || e.record == nil {
		return
	}
	var r recordRead
	select {
	case r = <-e.record:
	case <-ctx.Done():
		return
	}
	if !errors.Is(r.err, zk.ErrNoNode) {
		return
	}
	sess := e.session()
	out, _ := json.Marshal(runRecord{Lock: e.lockName, Schedule: e.o.schedule, TZ: localZoneName()})
	err := createRecord(e.doCtx(ctx), sess.Conn(), e.st.root, e.recordPath(), out, e.nodeACL())
	if err != nil && !errors.Is(err, zk.ErrNodeExists) {
		e.log.Debug().Err(err).Msg("could not register the job's schedule")
	}
}

// slotBefore orders slots: by instant, then by key. A slot in a
// spring-forward gap carries the offset after the gap, so its instant can
// equal an earlier wall time's (01:30+01:00 and 02:30+02:00); their keys,
// wall times of the same day, tell them apart in cron's order. (Two
// fixed-time matches on either side of a gap's start, within its length,
// would still compare by instant: a limit the README states.)
func slotBefore(a, b time.Time) bool {
	if !a.Equal(b) {
		return a.Before(b)
	}
	return schedule.Key(a) < schedule.Key(b)
}
