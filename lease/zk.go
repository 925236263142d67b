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

	"github.com/cronguard/cronguard/session"
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

// Option configures a Queue or a Semaphore.
type Option func(*nodeOpts)

type nodeOpts struct{ acl []zk.ACL }

// WithACL sets the ACL of the nodes created (default: open, as switchman's).
// A directory created gets ChildACL of its parent and this.
func WithACL(acl []zk.ACL) Option { return func(o *nodeOpts) { o.acl = acl } }

func applyOptions(opts []Option) nodeOpts {
	o := nodeOpts{acl: zk.WorldACL(zk.PermAll)}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// retryAfter is the fallback between attempts when a request failed without
// an answer and no reconnect was announced (the announcement is the normal
// wake-up; this only bounds a missed one).
const retryAfter = time.Second

// waiter bundles what every blocking step needs: the session, the caller's
// context, an optional deadline and the ACL of what it creates.
type waiter struct {
	ctx      context.Context
	sess     *session.Session
	deadline <-chan time.Time
	acl      []zk.ACL
}

func newWaiter(ctx context.Context, sess *session.Session, deadline time.Time, acl []zk.ACL) (*waiter, func()) {
	w := &waiter{ctx: ctx, sess: sess, acl: acl}
	if deadline.IsZero() {
		return w, func() {}
	}
	t := time.NewTimer(time.Until(deadline))
	w.deadline = t.C
	return w, func() { t.Stop() }
}

// do runs an idempotent request until the server answers it, retrying once
// the same session is back after a connection loss. The request itself is
// abandoned when the wait must end (deadline, context, session over).
func (w *waiter) do(req func() error) error {
	for {
		rc := w.sess.Reconnected()
		err := w.sess.DoCtx(w.ctx, req)
		if session.Answered(err) {
			return err
		}
		if session.Gone(err) {
			return err
		}
		if w.ctx.Err() != nil {
			return w.ctx.Err()
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
	if w.sess.Connected() {
		return nil
	}
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
	case <-w.sess.Done():
		return w.sess.Err()
	}
}

// watch waits for ev or a reconnect of the session (after which the caller
// re-reads everything it relies on).
func (w *waiter) watch(ev <-chan zk.Event, rc <-chan struct{}) error {
	select {
	case e, ok := <-ev:
		if !ok || e.Type == zk.EventNotWatching {
			return fmt.Errorf("%w: watch ended: %v", session.ErrExpired, e.Err)
		}
		return nil
	case <-rc:
		return nil
	case <-w.deadline:
		return ErrTimeout
	case <-w.ctx.Done():
		return w.ctx.Err()
	case <-w.sess.Done():
		return w.sess.Err()
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
// creates it. It looks before it creates: ZooKeeper checks the CREATE
// permission on the parent before it reports that a node exists, and under
// ACLs a worker may not create in the prefix. A directory created gets
// ChildACL(prefix, the ACL option).
func (w *waiter) ensureDirs(prefix, base string, rel ...string) error {
	p := base
	for i, r := range rel {
		p += "/" + r
		var ok bool
		if err := w.do(func() (e error) { ok, _, e = w.sess.Conn().Exists(p); return e }); err != nil {
			return fmt.Errorf("lease: reading %s: %w", p, err)
		}
		if ok {
			continue
		}
		if i == 0 {
			// A direct child of the prefix may be missing because the
			// prefix is: say so rather than "no node".
			var pok bool
			if err := w.do(func() (e error) { pok, _, e = w.sess.Conn().Exists(base); return e }); err != nil {
				return fmt.Errorf("lease: reading %s: %w", base, err)
			}
			if !pok {
				return fmt.Errorf("lease: %s does not exist (create the prefix with a fleet config first)", base)
			}
		}
		err := w.do(func() error {
			acl, e := ChildACL(w.sess.Conn(), prefix, w.acl)
			if e == nil {
				_, e = w.sess.Conn().Create(p, nil, 0, acl)
			}
			return e
		})
		switch {
		case err == nil, errors.Is(err, zk.ErrNodeExists):
		default:
			return fmt.Errorf("lease: creating %s: %w", p, err)
		}
	}
	return nil
}

// createSeq creates the ephemeral sequential node dir/prefix<seq> and returns
// its name. With guard set, the create runs in one multi-op after guard (a
// version check of a node we hold), so that it happens only while that node
// is still ours. When the answer to the create is lost with the connection,
// the node may exist: once the session is back, a node of ours (by
// ephemeral owner) with that prefix is taken as the result.
func (w *waiter) createSeq(dir, prefix string, data []byte, guard *zk.CheckVersionRequest) (string, error) {
	for {
		rc := w.sess.Reconnected()
		var p string
		err := w.sess.DoCtx(w.ctx, func() (e error) {
			if guard == nil {
				p, e = w.sess.Conn().Create(dir+"/"+prefix, data, zk.FlagEphemeral|zk.FlagSequence, w.acl)
				return e
			}
			res, e := w.sess.Conn().Multi(guard, &zk.CreateRequest{Path: dir + "/" + prefix, Data: data,
				Acl: w.acl, Flags: zk.FlagEphemeral | zk.FlagSequence})
			if e == nil && len(res) == 2 {
				p = res[1].String
			}
			for _, r := range res {
				if e != nil && r.Error != nil {
					return fmt.Errorf("%w: %w", e, r.Error)
				}
			}
			return e
		})
		if err == nil {
			return path.Base(p), nil
		}
		if session.Answered(err) || session.Gone(err) || w.ctx.Err() != nil {
			return "", err
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

// remove deletes the ephemeral node p if it exists. It retries across
// connection losses (the delete is idempotent) but not on the caller's
// deadline or context: cleaning up must finish while the run goes on. It
// gives up without waiting once the session is over or T has passed since
// the last answer (the server has expired the session, and p with it), and
// it sends nothing while the link is down after the fence: the node goes
// with the session.
func remove(sess *session.Session, p string) error {
	if sess.Err() != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), sess.UntilExpiry())
	defer cancel()
	cleanup := &waiter{ctx: ctx, sess: sess}
	err := cleanup.do(func() error { return sess.Conn().Delete(p, -1) })
	switch {
	case err == nil, errors.Is(err, zk.ErrNoNode), session.Gone(err), ctx.Err() != nil:
		return nil
	}
	return fmt.Errorf("lease: deleting %s: %w", p, err)
}

func (w *waiter) remove(p string) error { return remove(w.sess, p) }

// removeAfter removes p on an error path. After an error the server
// answered, at once; after one it did not (a signal, a deadline, a dead
// link), in the background: the failed wait must end now, and the caller's
// session close, or its expiry, takes p anyway.
func (w *waiter) removeAfter(p string, err error) {
	if session.Answered(err) {
		_ = w.remove(p)
		return
	}
	go remove(w.sess, p)
}

// awaitHead returns once no sibling in dir with a lower sequence number
// than node is left (seq parses a sibling's sequence number). It watches
// only its predecessor, the sibling with the next lower number: the queue
// and the semaphore's mutex both wait this way (switchman 1.16,
// Net::ZooKeeper::Lock). ErrLostPosition: node itself is gone.
func (w *waiter) awaitHead(dir, node string, seq func(string) (int64, bool)) error {
	mine, _ := seq(node)
	for {
		kids, err := w.children(dir)
		if err != nil {
			return fmt.Errorf("lease: reading %s: %w", dir, err)
		}
		found := false
		pred, predSeq := "", int64(-1)
		for _, k := range kids {
			n, ok := seq(k)
			switch {
			case !ok:
			case k == node:
				found = true
			case n < mine && n > predSeq:
				pred, predSeq = k, n
			}
		}
		if !found {
			return fmt.Errorf("%w: %s", ErrLostPosition, dir+"/"+node)
		}
		if pred == "" {
			return nil
		}
		rc := w.sess.Reconnected()
		var ok bool
		var ev <-chan zk.Event
		if err := w.do(func() (e error) { ok, _, ev, e = w.sess.Conn().ExistsW(dir + "/" + pred); return e }); err != nil {
			return err
		}
		if !ok {
			continue
		}
		if err := w.watch(ev, rc); err != nil {
			return err
		}
	}
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
func WaitGone(ctx context.Context, sess *session.Session, p string, deadline time.Time) error {
	w, stop := newWaiter(ctx, sess, deadline, nil)
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
