package cli

import (
	"context"
	"errors"

	"github.com/cronguard/cronguard/lock"
)

// acquireLock takes the run's lock, waiting up to --wait. A busy lock is a
// skip (exit --skip-code), logged with the holder's data.
func (e *runEnv) acquireLock(ctx context.Context, sess *lock.Session) (*lock.Lock, error) {
	var holder []byte
	lk, err := lock.Acquire(ctx, sess, e.st.root+"/locks/"+e.lockName, e.lockData(),
		lock.WithWait(e.o.wait), lock.WithOnBusy(func(h []byte) { holder = h }))
	if errors.Is(err, lock.ErrBusy) {
		e.log.Info().Str("event", "skip").Str("reason", "lock_busy").Str("holder", string(holder)).Msg("skip")
		return nil, exitCode(e.o.skipCode)
	}
	return lk, err
}
