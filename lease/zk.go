package lease

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/cronguard/cronguard/lock"
)

// Errors of the package.
var (
	// ErrTimeout: the deadline passed while waiting.
	ErrTimeout = errors.New("lease: wait timed out")
	// ErrAlreadyQueued: an entry of the same name is already waiting.
	ErrAlreadyQueued = errors.New("lease: already queued")
	// ErrLostPosition: our queue entry vanished while we waited in it.
	ErrLostPosition = errors.New("lease: queue entry vanished")
	// ErrTotalMismatch: a held lease was taken with another TOTAL.
	ErrTotalMismatch = errors.New("lease: TOTAL mismatch")
	// ErrBadLease: a node in a semaphore's leases is not count_total_seq.
	ErrBadLease = errors.New("lease: unexpected node among leases")
)

var openACL = zk.WorldACL(zk.PermAll)

// retryAfter is the fallback between attempts when a request failed without
// an answer and no reconnect was announced (the announcement is the normal
// wake-up; this only bounds a missed one).
const retryAfter = time.Second

// waiter bundles what every blocking step needs: the session, the caller's
// context and an optional deadline.
type waiter struct {
	ctx      context.Context
	sess     *lock.Session
	deadline <-chan time.Time
}

func newWaiter(ctx context.Context, sess *lock.Session, deadline time.Time) (*waiter, func()) {
	w := &waiter{ctx: ctx, sess: sess}
	if deadline.IsZero() {
		return w, func() {}
	}
	t := time.NewTimer(time.Until(deadline))
	w.deadline = t.C
	return w, func() { t.Stop() }
}

// sessionGone reports an error that means the session is over for good.
func sessionGone(err error) bool {
	return errors.Is(err, zk.ErrSessionExpired) || errors.Is(err, zk.ErrClosing)
}

// do runs an idempotent request until the server answers it, retrying once
// the same session is back after a connection loss.
func (w *waiter) do(req func() error) error {
	for {
		rc := w.sess.Reconnected()
		err := w.sess.Do(req)
		if lock.Answered(err) {
			return err
		}
		if sessionGone(err) {
			return fmt.Errorf("%w: %v", lock.ErrSessionExpired, err)
		}
		if err := w.pause(rc); err != nil {
			return err
		}
	}
}

// pause waits for the same session to come back (rc) after a request got
// no answer, or for the fallback retry delay. It returns an error when the
// wait must end: the deadline, the context, or the session lost.
func (w *waiter) pause(rc <-chan struct{}) error {
	t := time.NewTimer(retryAfter)
	defer t.Stop()
	select {
	case <-rc:
		return nil
	case <-t.C:
		return nil
	case <-w.deadline:
		return ErrTimeout
	case <-w.ctx.Done():
		return w.ctx.Err()
	case <-w.sess.Lost():
		return lock.ErrSessionExpired
	}
}

// watch waits for ev or a reconnect of the session (after which the caller
// re-reads everything it relies on).
func (w *waiter) watch(ev <-chan zk.Event, rc <-chan struct{}) error {
	select {
	case e, ok := <-ev:
		if !ok || e.Type == zk.EventNotWatching {
			return fmt.Errorf("%w: watch ended: %v", lock.ErrSessionExpired, e.Err)
		}
		return nil
	case <-rc:
		return nil
	case <-w.deadline:
		return ErrTimeout
	case <-w.ctx.Done():
		return w.ctx.Err()
	case <-w.sess.Lost():
		return lock.ErrSessionExpired
	}
}

// children lists dir; a missing dir is empty.
func (w *waiter) children(dir string) ([]string, error) {
	var kids []string
	err := w.do(func() (e error) { kids, _, e = w.sess.Conn().Children(dir); return e })
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	return kids, err
}

// ensureDirs creates the persistent nodes base/rel[0], base/rel[0]/rel[1],
// ... that are missing. base itself (the prefix) must exist: cronguard never
// creates it.
func (w *waiter) ensureDirs(base string, rel ...string) error {
	p := base
	for _, r := range rel {
		p += "/" + r
		err := w.do(func() error { _, e := w.sess.Conn().Create(p, nil, 0, openACL); return e })
		switch {
		case err == nil, errors.Is(err, zk.ErrNodeExists):
		case errors.Is(err, zk.ErrNoNode):
			return fmt.Errorf("lease: %s does not exist (create the prefix with a fleet config first)", base)
		default:
			return fmt.Errorf("lease: creating %s: %w", p, err)
		}
	}
	return nil
}

// createSeq creates the ephemeral sequential node dir/prefix<seq> and returns
// its name. When the answer to the create is lost with the connection, the
// node may exist: once the session is back, a node of ours (by ephemeral
// owner) with that prefix is taken as the result.
func (w *waiter) createSeq(dir, prefix string, data []byte) (string, error) {
	for {
		rc := w.sess.Reconnected()
		var p string
		err := w.sess.Do(func() (e error) {
			p, e = w.sess.Conn().Create(dir+"/"+prefix, data, zk.FlagEphemeral|zk.FlagSequence, openACL)
			return e
		})
		if err == nil {
			return path.Base(p), nil
		}
		if lock.Answered(err) {
			return "", err
		}
		if sessionGone(err) {
			return "", fmt.Errorf("%w: %v", lock.ErrSessionExpired, err)
		}
		if err := w.pause(rc); err != nil {
			return "", err
		}
		mine, err := w.owned(dir, prefix)
		if err != nil {
			return "", err
		}
		if len(mine) > 0 {
			// Keep the first; a second one would only come from a retry
			// whose first attempt also went through.
			for _, extra := range mine[1:] {
				_ = w.remove(dir + "/" + extra)
			}
			return mine[0], nil
		}
	}
}

// owned lists the children of dir named prefix<digits> whose ephemeral
// owner is our session, in sequence order.
func (w *waiter) owned(dir, prefix string) ([]string, error) {
	kids, err := w.children(dir)
	if err != nil {
		return nil, err
	}
	var mine []string
	for _, k := range kids {
		if _, ok := seqOf(k, prefix); !ok {
			continue
		}
		var st *zk.Stat
		var ok bool
		err := w.do(func() (e error) { ok, st, e = w.sess.Conn().Exists(dir + "/" + k); return e })
		if err != nil {
			return nil, err
		}
		if ok && st.EphemeralOwner == w.sess.ID() {
			mine = append(mine, k)
		}
	}
	sort.Slice(mine, func(i, j int) bool { a, _ := seqOf(mine[i], prefix); b, _ := seqOf(mine[j], prefix); return a < b })
	return mine, nil
}

// remove deletes p if it exists. It retries across connection losses (the
// delete is idempotent) but not on the caller's deadline or context:
// cleaning up must finish. It gives up after the session timeout T without
// an answer: by then the server has expired the session, and the ephemeral
// node with it.
func (w *waiter) remove(p string) error {
	cleanup, stop := newWaiter(context.Background(), w.sess, time.Now().Add(w.sess.Timeout()))
	defer stop()
	err := cleanup.do(func() error { return w.sess.Conn().Delete(p, -1) })
	switch {
	case err == nil, errors.Is(err, zk.ErrNoNode), errors.Is(err, lock.ErrSessionExpired), errors.Is(err, ErrTimeout):
		return nil
	}
	return fmt.Errorf("lease: deleting %s: %w", p, err)
}

// seqOf parses name = prefix + decimal sequence number.
func seqOf(name, prefix string) (int64, bool) {
	if !strings.HasPrefix(name, prefix) {
		return 0, false
	}
	digits := name[len(prefix):]
	if digits == "" {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	return n, err == nil
}

// trailingSeq parses the digits after the last '-' of name, switchman's
// /-(\d+)$/ for queue entries.
func trailingSeq(name string) (int64, bool) {
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return 0, false
	}
	return seqOf(name[i+1:], "")
}

// WaitGone returns once the node p does not exist, watching it (no
// polling). It returns ErrTimeout at the deadline (zero: none).
func WaitGone(ctx context.Context, sess *lock.Session, p string, deadline time.Time) error {
	w, stop := newWaiter(ctx, sess, deadline)
	defer stop()
	for {
		rc := sess.Reconnected()
		var ok bool
		var ev <-chan zk.Event
		if err := w.do(func() (e error) { ok, _, ev, e = sess.Conn().ExistsW(p); return e }); err != nil {
			return err
		}
		if !ok {
			return nil
		}
		if err := w.watch(ev, rc); err != nil {
			return err
		}
	}
}
