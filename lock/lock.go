// Package lock holds cronguard's fleet-wide lock: an ephemeral znode at
// <prefix>/locks/<name>, as switchman writes it, plus the session machinery
// (heartbeat, fence watchdog) that tells when the lock may have been lost.
package lock

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"
	"unicode"

	"github.com/go-zookeeper/zk"
)

// MaxNameLen is switchman's limit on lock names.
const MaxNameLen = 512

// ValidateName checks a lock name: it becomes one znode name.
func ValidateName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrInvalidName)
	case len(name) > MaxNameLen:
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidName, MaxNameLen)
	case strings.Contains(name, "/"):
		return fmt.Errorf("%w %q: must not contain '/'", ErrInvalidName, name)
	case name == "." || name == ".." || name == "zookeeper":
		return fmt.Errorf("%w %q: reserved by ZooKeeper", ErrInvalidName, name)
	}
	for _, r := range name {
		if r == unicode.ReplacementChar || unicode.IsControl(r) || unicode.IsSpace(r) {
			return fmt.Errorf("%w %q: control, space or invalid character", ErrInvalidName, name)
		}
	}
	return nil
}

// Lock is a held lock. It is lost when its node is deleted or owned by
// another session; such a loss is reported through the Session's Losses.
type Lock struct {
	sess    *Session
	path    string
	token   int64
	version int32
	events  <-chan zk.Event // set by the confirming read: one request fewer per run
}

// AcquireOption configures Acquire.
type AcquireOption func(*acquireOpts)

type acquireOpts struct {
	wait   time.Duration
	acl    []zk.ACL
	onBusy func(holder []byte)
}

// WithWait waits up to d for a busy lock, watching its node.
func WithWait(d time.Duration) AcquireOption { return func(o *acquireOpts) { o.wait = d } }

// WithACL sets the ACL of the lock node (default: open, as switchman).
func WithACL(acl []zk.ACL) AcquireOption { return func(o *acquireOpts) { o.acl = acl } }

// WithOnBusy is called with the holder's data each time the lock is found busy.
func WithOnBusy(f func(holder []byte)) AcquireOption { return func(o *acquireOpts) { o.onBusy = f } }

// Acquire creates the ephemeral node p with data. It returns ErrBusy when the
// node exists (whatever its data: a switchman holder counts) and the wait,
// if any, ran out.
func Acquire(ctx context.Context, s *Session, p string, data []byte, opts ...AcquireOption) (*Lock, error) {
	o := acquireOpts{acl: zk.WorldACL(zk.PermAll)}
	for _, f := range opts {
		f(&o)
	}
	var deadline <-chan time.Time
	if o.wait > 0 {
		t := time.NewTimer(o.wait)
		defer t.Stop()
		deadline = t.C
	}
	conn := s.Conn()
	madeParent := false
	for {
		var err error
		if err = s.Do(func() error { _, e := conn.Create(p, data, zk.FlagEphemeral, o.acl); return e }); err == nil {
			return s.confirm(p)
		}
		switch {
		case errors.Is(err, zk.ErrNoNode) && !madeParent:
			madeParent = true
			if err := ensureParent(s, path.Dir(p)); err != nil {
				return nil, err
			}
			continue
		case errors.Is(err, zk.ErrNodeExists):
			var holder []byte
			var st *zk.Stat
			var watch <-chan zk.Event
			err := s.Do(func() (e error) { holder, st, watch, e = conn.GetW(p); return e })
			if errors.Is(err, zk.ErrNoNode) {
				continue // released between our create and our read
			}
			if err != nil {
				return nil, fmt.Errorf("lock: reading %s: %w", p, err)
			}
			if st.EphemeralOwner == s.ID() {
				// An earlier create of ours went through although its answer was lost.
				return s.confirm(p)
			}
			if o.onBusy != nil {
				o.onBusy(holder)
			}
			if deadline == nil {
				return nil, ErrBusy
			}
			select {
			case <-watch:
			case <-deadline:
				return nil, ErrBusy
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-s.Lost():
				return nil, ErrSessionExpired
			}
		case !Answered(err):
			// The create may have happened: wait for the session to come
			// back, then the loop's next create or read tells.
			if err := s.awaitConnected(ctx, deadline); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("lock: creating %s: %w", p, err)
		}
	}
}

// confirm reads the node we just created, proving it is ours, getting the
// fencing token (czxid) and setting the watch that Watch starts from.
func (s *Session) confirm(p string) (*Lock, error) {
	var st *zk.Stat
	var ok bool
	var watch <-chan zk.Event
	err := s.Do(func() (e error) { ok, st, watch, e = s.Conn().ExistsW(p); return e })
	if err != nil {
		return nil, fmt.Errorf("lock: confirming %s: %w", p, err)
	}
	if !ok || st.EphemeralOwner != s.ID() {
		return nil, fmt.Errorf("%w: %s vanished right after it was created", ErrLost, p)
	}
	return &Lock{sess: s, path: p, token: st.Czxid, version: st.Version, events: watch}, nil
}

func ensureParent(s *Session, dir string) error {
	if dir == "/" || dir == "." {
		return nil
	}
	err := s.Do(func() error { _, e := s.Conn().Create(dir, nil, 0, zk.WorldACL(zk.PermAll)); return e })
	if err == nil || errors.Is(err, zk.ErrNodeExists) {
		return nil
	}
	if errors.Is(err, zk.ErrNoNode) {
		// The prefix itself is missing: never create it with junk data.
		return fmt.Errorf("lock: %s does not exist (create the prefix with a fleet config first)", path.Dir(dir))
	}
	return fmt.Errorf("lock: creating %s: %w", dir, err)
}

func (s *Session) awaitConnected(ctx context.Context, deadline <-chan time.Time) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for s.Conn().State() != zk.StateHasSession {
		select {
		case <-tick.C:
		case <-deadline:
			return ErrBusy
		case <-ctx.Done():
			return ctx.Err()
		case <-s.Lost():
			return ErrSessionExpired
		}
	}
	return nil
}

// Path is the lock node's path.
func (l *Lock) Path() string { return l.path }

// Token is the fencing token: the lock node's czxid, which grows with every
// new holder.
func (l *Lock) Token() int64 { return l.token }

// Watch starts watching the node until ctx ends: deletion, or a new owner,
// is a loss with SIGKILL at once; a data change by anyone else is a loss
// with the normal grace. It also re-verifies the node after each reconnect.
func (l *Lock) Watch(ctx context.Context) {
	go l.watch(ctx)
}

func (l *Lock) watch(ctx context.Context) {
	s := l.sess
	ev := l.events
	for {
		reconnected := s.Reconnected()
		if ev != nil {
			select {
			case <-ctx.Done():
				return
			case <-s.Lost():
				return
			case <-reconnected:
				// Watches survive a reconnect, but verify the node at once.
			case <-ev:
			}
		}
		var ok bool
		var st *zk.Stat
		err := s.Do(func() (e error) { ok, st, ev, e = s.Conn().ExistsW(l.path); return e })
		if err != nil {
			ev = nil
			if !Answered(err) {
				select {
				case <-ctx.Done():
					return
				case <-s.Lost():
					return
				case <-reconnected:
				}
				continue
			}
			s.log.Error().Err(err).Str("path", l.path).Msg("cannot watch the lock node")
			return
		}
		if !l.check(ok, st) {
			return
		}
		if st.Version != l.version {
			s.emit(Loss{Reason: ReasonLockLost, Detail: "the lock node's data was changed by someone else"})
			l.version = st.Version
		}
	}
}

// check reports a definite loss when the node is gone or not ours; it
// returns whether the lock is still held.
func (l *Lock) check(exists bool, st *zk.Stat) bool {
	s := l.sess
	switch {
	case !exists:
		s.LoseNow(ReasonLockLost, "the lock node was deleted")
		return false
	case st.EphemeralOwner != s.ID():
		s.LoseNow(ReasonLockLost, fmt.Sprintf("the lock node belongs to session %#x, not ours", st.EphemeralOwner))
		return false
	}
	return true
}

// Probe is the heartbeat request for Session.Guard: one Exists on the lock
// node, which also proves the node is still ours.
func (l *Lock) Probe() bool {
	var ok bool
	var st *zk.Stat
	err := l.sess.Do(func() (e error) { ok, st, e = l.sess.Conn().Exists(l.path); return e })
	if err != nil {
		return false
	}
	l.check(ok, st)
	return true
}

// Release deletes the node if it is still ours. Call it only once the job
// is confirmed dead.
func (l *Lock) Release() error {
	s := l.sess
	var ok bool
	var st *zk.Stat
	err := s.Do(func() (e error) { ok, st, e = s.Conn().Exists(l.path); return e })
	if err != nil {
		return fmt.Errorf("lock: release %s: %w", l.path, err)
	}
	if !ok || st.EphemeralOwner != s.ID() {
		return nil
	}
	err = s.Do(func() error { return s.Conn().Delete(l.path, st.Version) })
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return fmt.Errorf("lock: release %s: %w", l.path, err)
	}
	return nil
}
