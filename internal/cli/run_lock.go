package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/cronguard/cronguard/lease"
	"github.com/cronguard/cronguard/lock"
	"github.com/cronguard/cronguard/session"
)

// Skip reasons of the lock and leases steps.
const (
	reasonLockBusy      = "lock_busy"
	reasonAlreadyQueued = "already_queued"
	reasonLeaseBusy     = "lease_busy"
)

// acquire takes the run's lock, then its leases. A run that waits (--wait,
// or for leases) and whose session expires keeps waiting within its budget:
// a new session, the fleet config read again, a new place in the queues.
func (e *runEnv) acquire(ctx context.Context) (*lock.Lock, error) {
	for {
		lk, err := e.acquireOnce(ctx)
		if err == nil || !errors.Is(err, session.ErrExpired) {
			return lk, err
		}
		deadline, waits := e.waitDeadline()
		if !waits {
			return nil, fmt.Errorf("ZooKeeper session lost while taking the lock: %w", err)
		}
		e.log.Info().Str("event", "zk").Msg("session expired while waiting: a new session and a new place in the queue")
		if err := e.reconnectBy(ctx, deadline); err != nil {
			return nil, err
		}
	}
}

func (e *runEnv) acquireOnce(ctx context.Context) (*lock.Lock, error) {
	var lk *lock.Lock
	if !e.o.noLock {
		var err error
		if lk, err = e.acquireLock(ctx); err != nil {
			return nil, err
		}
	}
	if err := e.acquireLeases(ctx); err != nil {
		return nil, err
	}
	return lk, nil
}

// waitDeadline is when the run's waiting ends (zero: no bound) and whether
// it waits at all: --wait bounds the lock and the leases together, from the
// moment the run began waiting for its lock; without --wait,
// resources_wait_timeout bounds the leases (0: no bound, as switchman).
func (e *runEnv) waitDeadline() (time.Time, bool) {
	if e.o.wait > 0 {
		if e.waitStart.IsZero() {
			e.waitStart = time.Now()
		}
		return e.waitStart.Add(e.o.wait), true
	}
	if len(e.leases) == 0 {
		return time.Time{}, false
	}
	if d := e.st.local.ResourcesWaitTimeout; d > 0 {
		if e.waitStart.IsZero() {
			e.waitStart = time.Now()
		}
		return e.waitStart.Add(d), true
	}
	return time.Time{}, true
}

// reconnectBy opens a new session in place of an expired one, retrying
// while ZooKeeper cannot be reached, until deadline (zero: none). Past it,
// the last error is the run's (unreachable: exit 125).
func (e *runEnv) reconnectBy(ctx context.Context, deadline time.Time) error {
	for {
		err := e.reconnect(ctx)
		if err == nil || !errors.Is(err, session.ErrUnreachable) {
			return err
		}
		if ctx.Err() != nil {
			return e.waitFailed(ctx.Err())
		}
		if !deadline.IsZero() && time.Now().Add(redialRetry).After(deadline) {
			return err
		}
		t := time.NewTimer(redialRetry)
		select {
		case <-ctx.Done():
			t.Stop()
			return e.waitFailed(ctx.Err())
		case <-t.C:
		}
	}
}

// takeLock is one bounded attempt at the lock node: while ZooKeeper does not
// answer it waits for the session to come back, but no longer than the
// connect timeout plus T (then: unreachable, exit 125).
func (e *runEnv) takeLock(ctx context.Context, sess *session.Session, p string, holder *[]byte) (*lock.Lock, error) {
	actx, cancel := context.WithTimeout(ctx, sess.ConnectTimeout()+sess.Timeout())
	defer cancel()
	lk, err := lock.Acquire(actx, sess, p, e.lockData(), lock.WithACL(e.nodeACL()),
		lock.WithOnBusy(func(h []byte) { *holder = h }))
	if err != nil && !errors.Is(err, lock.ErrBusy) {
		return nil, e.waitFailed(err)
	}
	return lk, err
}

// holderField logs a busy lock's data as "holder": an object when it is
// cronguard's JSON, a string otherwise (switchman's "host pid").
func holderField(ev *zerolog.Event, holder []byte) *zerolog.Event {
	if t := bytes.TrimSpace(holder); len(t) > 0 && t[0] == '{' && json.Valid(t) {
		return ev.RawJSON("holder", t)
	}
	return ev.Str("holder", string(holder))
}

// acquireLock takes the run's lock. A busy lock is a skip (exit
// --skip-code), logged with the holder's data, unless --wait D is set: then
// the run waits for it in the fair queue <prefix>/queues/_locks, as entry
// <lock>-<seq>. A run of the same lock that is already waiting there means
// this one skips (already_queued), so a job never piles up waiters and a
// newcomer never overtakes the one that waited; the one waiter watches the
// lock node itself and gives up at the deadline (lock_busy).
func (e *runEnv) acquireLock(ctx context.Context) (*lock.Lock, error) {
	sess := e.session()
	p := e.st.root + "/locks/" + e.lockName
	var holder []byte
	busy := func(waited time.Duration) error {
		return e.skip(reasonLockBusy, func(ev *zerolog.Event) *zerolog.Event {
			ev = holderField(ev, holder)
			if waited > 0 {
				ev = ev.Dur("waited_ms", waited)
			}
			return ev
		})
	}
	if e.o.wait <= 0 {
		lk, err := e.takeLock(ctx, sess, p, &holder)
		if errors.Is(err, lock.ErrBusy) {
			return nil, busy(0)
		}
		return lk, err
	}

	deadline, _ := e.waitDeadline()
	// --wait bounds every step of the wait, requests that get no answer
	// included: at the deadline the run skips, wherever it was.
	wctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	fail := func(err error) error {
		if ctx.Err() == nil && wctx.Err() != nil {
			return busy(time.Since(e.waitStart))
		}
		return e.waitFailed(err)
	}
	q := lease.NewQueue(sess, e.st.root, lease.LockQueueName, lease.WithACL(e.nodeACL()))
	// Someone waits for this lock already: it is theirs next, not ours.
	queued, err := q.Queued(wctx, e.lockName)
	if err != nil {
		return nil, fail(err)
	}
	if queued {
		return nil, e.skipQueued(q.Dir())
	}
	lk, err := e.takeLock(wctx, sess, p, &holder)
	if !errors.Is(err, lock.ErrBusy) {
		if err != nil {
			return nil, fail(err)
		}
		return lk, nil
	}

	ticket, err := q.Join(wctx, e.lockName, e.lockData())
	if errors.Is(err, lease.ErrAlreadyQueued) {
		return nil, e.skipQueued(q.Dir())
	}
	if err != nil {
		return nil, fail(err)
	}
	holderField(e.log.Debug().Str("queue", ticket.Path()), holder).Dur("wait_ms", e.o.wait).Msg("lock busy; waiting")
	for {
		err := lease.WaitGone(wctx, sess, p, deadline)
		if errors.Is(err, lease.ErrTimeout) {
			return nil, busy(time.Since(e.waitStart))
		}
		if err != nil {
			return nil, fail(err)
		}
		lk, err := e.takeLock(wctx, sess, p, &holder)
		if err == nil {
			// Out of the queue, without holding up the job: the entry
			// goes with the session at the latest. A run that gives up
			// leaves it to the session's close.
			go ticket.Leave()
			return lk, nil
		}
		if !errors.Is(err, lock.ErrBusy) {
			return nil, fail(err)
		}
		// Taken in between by a run that does not queue (switchman, or
		// no --wait): wait on.
	}
}

func (e *runEnv) skipQueued(queue string) error {
	return e.skip(reasonAlreadyQueued, func(ev *zerolog.Event) *zerolog.Event { return ev.Str("queue", queue) })
}

// waitFailed turns an error that ended a wait into the run's result: a stop
// signal received while waiting ends the run as if the signal had killed
// it (128+N, nothing left in ZooKeeper once the session closes); an expired
// session is passed on (acquire may open a new one); anything else is
// cronguard's own failure.
func (e *runEnv) waitFailed(err error) error {
	var ee *exitError
	if errors.As(err, &ee) {
		return err // already the run's result
	}
	if e.signals.received() != 0 && errors.Is(err, context.Canceled) {
		return e.skipSignal()
	}
	return err
}
