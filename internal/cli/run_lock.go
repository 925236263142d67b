package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/cronguard/cronguard/lease"
	"github.com/cronguard/cronguard/lock"
)

// Skip reasons of the lock and leases steps.
const (
	reasonLockBusy      = "lock_busy"
	reasonAlreadyQueued = "already_queued"
	reasonLeaseBusy     = "lease_busy"
)

// acquireLock takes the run's lock. A busy lock is a skip (exit
// --skip-code), logged with the holder's data, unless --wait D is set: then
// the run waits for it in the fair queue <prefix>/queues/_locks, as entry
// <lock>-<seq>. A run of the same lock that is already waiting there means
// this one skips (already_queued), so a job never piles up waiters and a
// newcomer never overtakes the one that waited; the one waiter watches the
// lock node itself and gives up at the deadline (lock_busy).
func (e *runEnv) acquireLock(ctx context.Context, sess *lock.Session) (_ *lock.Lock, err error) {
	p := e.st.root + "/locks/" + e.lockName
	var holder []byte
	acquire := func() (*lock.Lock, error) {
		return lock.Acquire(ctx, sess, p, e.lockData(),
			lock.WithOnBusy(func(h []byte) { holder = h }))
	}
	busy := func(waited time.Duration) error {
		return e.skip(reasonLockBusy, func(ev *zerolog.Event) *zerolog.Event {
			ev = ev.Str("holder", string(holder))
			if waited > 0 {
				ev = ev.Dur("waited", waited)
			}
			return ev
		})
	}
	if e.o.wait <= 0 {
		lk, err := acquire()
		if errors.Is(err, lock.ErrBusy) {
			return nil, busy(0)
		}
		return lk, err
	}

	start := time.Now()
	e.waitStart = start // acquireLeases bounds its wait from here
	deadline := start.Add(e.o.wait)
	q := lease.NewQueue(sess, e.st.root, lease.LockQueueName)
	// Someone waits for this lock already: it is theirs next, not ours.
	queued, err := q.Queued(ctx, e.lockName)
	if err != nil {
		return nil, err
	}
	if queued {
		return nil, e.skipQueued(q.Dir())
	}
	lk, err := acquire()
	if !errors.Is(err, lock.ErrBusy) {
		return lk, err
	}

	wctx, stopSignals := waitSignals(ctx)
	defer stopSignals()
	ticket, err := q.Join(wctx, e.lockName, e.lockData())
	if errors.Is(err, lease.ErrAlreadyQueued) {
		return nil, e.skipQueued(q.Dir())
	}
	if err != nil {
		return nil, e.waitFailed(err, stopSignals)
	}
	defer ticket.Leave()
	e.log.Debug().Str("queue", ticket.Path()).Str("holder", string(holder)).Dur("wait", e.o.wait).Msg("lock busy; waiting")
	for {
		err := lease.WaitGone(wctx, sess, p, deadline)
		if errors.Is(err, lease.ErrTimeout) {
			ticket.Leave()
			return nil, busy(time.Since(start))
		}
		if err != nil {
			return nil, e.waitFailed(err, stopSignals)
		}
		lk, err := acquire()
		if err == nil {
			return lk, nil
		}
		if !errors.Is(err, lock.ErrBusy) {
			return nil, err
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
// it (128+N, nothing left in ZooKeeper once the session closes); anything
// else is cronguard's own failure.
func (e *runEnv) waitFailed(err error, stopSignals func() int) error {
	if sig := stopSignals(); sig != 0 && errors.Is(err, context.Canceled) {
		e.log.Info().Str("event", "skip").Str("reason", reasonSignal).
			Str("detail", fmt.Sprintf("cronguard got signal %d while waiting", sig)).Msg("skip")
		return exitCode(128 + sig)
	}
	if errors.Is(err, lock.ErrSessionExpired) {
		return fmt.Errorf("ZooKeeper session lost while waiting: %w", err)
	}
	return err
}
