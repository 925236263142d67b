// Package lock holds cronguard's fleet-wide lock: an ephemeral znode at
// <prefix>/locks/<name>, as switchman writes it. The session it lives in
// (package session) tells when the lock may have been lost to silence; the
// lock's own Lost channel tells when its node went or changed hands.
package lock

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"sync"
	"unicode"

	"github.com/go-zookeeper/zk"

	"github.com/cronguard/cronguard/lease"
	"github.com/cronguard/cronguard/session"
)

// Sentinel errors of the package; callers map them to exit codes.
var (
	ErrBusy        = errors.New("lock: busy")
	ErrInvalidName = errors.New("lock: invalid lock name")
	ErrLost        = errors.New("lock: lost")
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

// Lock is a held lock. Lost closes when its node is deleted, changes hands
// or has its data changed by someone else; Err then says which.
type Lock struct {
	sess    *session.Session
	path    string
	token   int64
	version int32
	events  <-chan zk.Event // set by the confirming read: one request fewer per run

	lost     chan struct{}
	lostOnce sync.Once
	err      *session.Loss
}

// AcquireOption configures Acquire.
type AcquireOption func(*acquireOpts)

type acquireOpts struct {
	acl    []zk.ACL
	onBusy func(holder []byte)
}

// WithACL sets the ACL of the lock node and, through lease.ChildACL, of the
// locks directory if it must be created (default: open, as switchman).
func WithACL(acl []zk.ACL) AcquireOption { return func(o *acquireOpts) { o.acl = acl } }

// WithOnBusy is called with the holder's data each time the lock is found busy.
func WithOnBusy(f func(holder []byte)) AcquireOption { return func(o *acquireOpts) { o.onBusy = f } }

// Acquire creates the ephemeral node p with data: a try-lock. It returns
// ErrBusy when the node exists (whatever its data: a switchman holder
// counts). Waiting for a busy lock is the caller's (cronguard waits in a
// fair queue, lease.WaitGone). It is bounded by ctx (give it a deadline:
// while ZooKeeper does not answer it waits for the session to come back),
// and returns session.ErrUnreachable when ctx's deadline passed that way.
func Acquire(ctx context.Context, s *session.Session, p string, data []byte, opts ...AcquireOption) (*Lock, error) {
	o := acquireOpts{acl: zk.WorldACL(zk.PermAll)}
	for _, f := range opts {
		f(&o)
	}
	conn := s.Conn()
	madeParent := false
	for {
		rc := s.Reconnected()
		err := s.DoCtx(ctx, func() error { _, e := conn.Create(p, data, zk.FlagEphemeral, o.acl); return e })
		if err == nil {
			return confirm(ctx, s, p)
		}
		switch {
		case errors.Is(err, zk.ErrNoNode) && !madeParent:
			madeParent = true
			if err := ensureParent(ctx, s, path.Dir(p), o.acl); err != nil {
				return nil, err
			}
			continue
		case errors.Is(err, zk.ErrNodeExists):
			var holder []byte
			var st *zk.Stat
			err := s.DoCtx(ctx, func() (e error) { holder, st, e = conn.Get(p); return e })
			if errors.Is(err, zk.ErrNoNode) {
				continue // released between our create and our read
			}
			if !session.Answered(err) {
				if err := awaitSession(ctx, s, rc, err); err != nil {
					return nil, err
				}
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("lock: reading %s: %w", p, err)
			}
			if st.EphemeralOwner == s.ID() {
				// An earlier create of ours went through although its answer was lost.
				return confirm(ctx, s, p)
			}
			if o.onBusy != nil {
				o.onBusy(holder)
			}
			return nil, ErrBusy
		case !session.Answered(err):
			// The create may have happened: wait for the session to come
			// back, then the loop's next create or read tells.
			if err := awaitSession(ctx, s, rc, err); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("lock: creating %s: %w", p, err)
		}
	}
}

// ctxErr turns a passed deadline into "unreachable": Acquire only waits
// that long while ZooKeeper does not answer.
func ctxErr(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: no answer while taking the lock", session.ErrUnreachable)
	}
	return ctx.Err()
}

// awaitSession waits, after a request got no answer (err), for the same
// session to be back (rc), ctx or the session's end.
func awaitSession(ctx context.Context, s *session.Session, rc <-chan struct{}, err error) error {
	if session.Gone(err) {
		return err
	}
	if ctx.Err() != nil {
		return ctxErr(ctx)
	}
	if s.Connected() {
		return nil // back already, or the request failed for another reason: retry
	}
	select {
	case <-rc:
		return nil
	case <-ctx.Done():
		return ctxErr(ctx)
	case <-s.Done():
		return s.Err()
	}
}

// confirm reads the node we just created, proving it is ours, getting the
// fencing token (czxid) and setting the watch that Watch starts from.
func confirm(ctx context.Context, s *session.Session, p string) (*Lock, error) {
	var st *zk.Stat
	var ok bool
	var watch <-chan zk.Event
	err := s.DoCtx(ctx, func() (e error) { ok, st, watch, e = s.Conn().ExistsW(p); return e })
	if err != nil {
		return nil, fmt.Errorf("lock: confirming %s: %w", p, err)
	}
	if !ok || st.EphemeralOwner != s.ID() {
		return nil, fmt.Errorf("%w: %s vanished right after it was created", ErrLost, p)
	}
	return &Lock{sess: s, path: p, token: st.Czxid, version: st.Version, events: watch, lost: make(chan struct{})}, nil
}

// ensureParent creates the locks directory when it is missing. It checks
// first: ZooKeeper checks CREATE permission on the parent before it reports
// that a node exists, and the prefix is read-only for a worker under ACLs.
func ensureParent(ctx context.Context, s *session.Session, dir string, acl []zk.ACL) error {
	if dir == "/" || dir == "." {
		return nil
	}
	var ok bool
	if err := s.DoCtx(ctx, func() (e error) { ok, _, e = s.Conn().Exists(dir); return e }); err != nil {
		return fmt.Errorf("lock: reading %s: %w", dir, err)
	}
	if ok {
		return nil
	}
	err := s.DoCtx(ctx, func() error {
		dacl, e := lease.ChildACL(s.Conn(), path.Dir(dir), acl)
		if e == nil {
			_, e = s.Conn().Create(dir, nil, 0, dacl)
		}
		return e
	})
	if err == nil || errors.Is(err, zk.ErrNodeExists) {
		return nil
	}
	if errors.Is(err, zk.ErrNoNode) {
		// The prefix itself is missing: never create it with junk data.
		return fmt.Errorf("lock: %s does not exist (create the prefix with a fleet config first)", path.Dir(dir))
	}
	return fmt.Errorf("lock: creating %s: %w", dir, err)
}

// Path is the lock node's path.
func (l *Lock) Path() string { return l.path }

// Token is the fencing token: the lock node's czxid, which grows with every
// new holder.
func (l *Lock) Token() int64 { return l.token }

// Lost is closed once the lock is lost; Err says how.
func (l *Lock) Lost() <-chan struct{} { return l.lost }

// Err is nil while the lock is held, then the *session.Loss.
func (l *Lock) Err() error {
	select {
	case <-l.lost:
		return l.err
	default:
		return nil
	}
}

func (l *Lock) lose(loss *session.Loss) {
	l.lostOnce.Do(func() {
		l.err = loss
		close(l.lost)
	})
}

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
			case <-s.Done():
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
			if !session.Answered(err) {
				select {
				case <-ctx.Done():
					return
				case <-s.Done():
					return
				case <-reconnected:
				}
				continue
			}
			s.Logger().Error().Err(err).Str("path", l.path).Msg("cannot watch the lock node")
			return
		}
		if !l.check(ok, st) {
			return
		}
		if st.Version != l.version {
			l.lose(&session.Loss{Reason: session.ReasonLockLost, Detail: "the lock node's data was changed by someone else"})
			return
		}
	}
}

// check reports a definite loss when the node is gone or not ours; it
// returns whether the lock is still held.
func (l *Lock) check(exists bool, st *zk.Stat) bool {
	switch {
	case !exists:
		l.lose(&session.Loss{Reason: session.ReasonLockLost, Detail: "the lock node was deleted", Now: true})
		return false
	case st.EphemeralOwner != l.sess.ID():
		l.lose(&session.Loss{Reason: session.ReasonLockLost, Now: true,
			Detail: fmt.Sprintf("the lock node belongs to session %#x, not ours", st.EphemeralOwner)})
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
// is confirmed dead. While the link is down (or the fence fired) it does
// nothing: the node goes with the session, and waiting for the link would
// hold cron's process.
func (l *Lock) Release() error {
	s := l.sess
	if !s.Connected() || s.Err() != nil {
		return nil
	}
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
