package lease

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/cronguard/cronguard/session"
)

// Semaphore is Net::ZooKeeper::Semaphore's counting semaphore at
// <prefix>/semaphores/<resource>: held leases are the ephemeral sequential
// children <count>_<total>_<seq> of its "leases" node, and the read of the
// held counts plus the create of a new lease happen under a mutex, the
// ephemeral sequential children acquire-<seq> of its "lock" node
// (Net::ZooKeeper::Lock, lock_name "acquire"), held by the lowest.
type Semaphore struct {
	sess     *session.Session
	prefix   string
	resource string
	dir      string
	opts     nodeOpts
}

// NewSemaphore is the semaphore of resource under prefix (created on first
// use; the prefix must exist).
func NewSemaphore(sess *session.Session, prefix, resource string, opts ...Option) *Semaphore {
	return &Semaphore{sess: sess, prefix: prefix, resource: resource, dir: SemaphorePath(prefix, resource), opts: applyOptions(opts)}
}

// Lease is a held lease.
type Lease struct {
	sess  *session.Session
	path  string
	Count int64
	Total int64
}

// Path is the lease's znode.
func (l *Lease) Path() string { return l.path }

// Release deletes the lease. Call it only once the job is confirmed dead;
// closing the session releases it too.
func (l *Lease) Release() error {
	if l == nil || l.path == "" {
		return nil
	}
	if err := remove(l.sess, l.path); err != nil {
		return err
	}
	l.path = ""
	return nil
}

// leaseName is compiled on first use, not at init, which every cron run would pay.
var leaseName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(-?\d+)_(\d+)_(\d+)$`) })

// Held sums the counts of the leases named in kids. Every lease must have
// been taken with the same total (Net::ZooKeeper::Semaphore croaks
// otherwise, and so does this).
func Held(kids []string, total int64) (int64, error) {
	var sum int64
	for _, k := range kids {
		m := leaseName().FindStringSubmatch(k)
		if m == nil {
			return 0, fmt.Errorf("%w: %q is not <count>_<total>_<seq>", ErrBadLease, k)
		}
		c, err1 := strconv.ParseInt(m[1], 10, 64)
		t, err2 := strconv.ParseInt(m[2], 10, 64)
		if err1 != nil || err2 != nil {
			return 0, fmt.Errorf("%w: %q has numbers out of range", ErrBadLease, k)
		}
		if t != total {
			return 0, fmt.Errorf("%w: lease %s was taken with TOTAL %d, this one asks for TOTAL %d (every lease of a resource must use the same TOTAL)", ErrTotalMismatch, k, t, total)
		}
		sum += c
	}
	return sum, nil
}

// Acquire waits until count more fits under total and takes a lease holding
// data. The wait watches the semaphore's leases for a change; there is no
// polling. It returns ErrTimeout at the deadline (zero: none), leaving no
// node of its own behind.
func (s *Semaphore) Acquire(ctx context.Context, count, total int64, data []byte, deadline time.Time) (*Lease, error) {
	w, stop := newWaiter(ctx, s.sess, deadline, s.opts.acl)
	defer stop()
	if err := w.ensureDirs(s.prefix, s.prefix, "semaphores", s.resource, "lock"); err != nil {
		return nil, err
	}
	leases := s.dir + "/leases"
	if err := w.ensureDirs(s.prefix, s.dir, "leases"); err != nil {
		return nil, err
	}
	for {
		mutex, err := s.lockMutex(w, data)
		if err != nil {
			return nil, err
		}
		rc := s.sess.Reconnected()
		var kids []string
		var ev <-chan zk.Event
		err = w.do(func() (e error) { kids, _, ev, e = s.sess.Conn().ChildrenW(leases); return e })
		if err != nil {
			w.removeAfter(mutex, err)
			return nil, fmt.Errorf("lease: reading %s: %w", leases, err)
		}
		held, err := Held(kids, total)
		if err != nil {
			_ = w.remove(mutex)
			return nil, fmt.Errorf("semaphore %s: %w", s.resource, err)
		}
		if held+count <= total {
			// The create checks, in the same multi-op, that our mutex node
			// is still there: a lease is only ever created while this
			// session holds the mutex. Should the deadline pass while a
			// lost answer is sorted out, a lease created meanwhile goes
			// with the session the caller then closes.
			node, err := w.createSeq(leases, fmt.Sprintf("%d_%d_", count, total), data,
				&zk.CheckVersionRequest{Path: mutex, Version: 0})
			if err != nil {
				w.removeAfter(mutex, err)
				return nil, fmt.Errorf("lease: creating a lease in %s: %w", leases, err)
			}
			_ = w.remove(mutex)
			return &Lease{sess: s.sess, path: leases + "/" + node, Count: count, Total: total}, nil
		}
		if err := w.remove(mutex); err != nil {
			return nil, err
		}
		if err := w.watch(ev, rc); err != nil {
			return nil, err
		}
	}
}

// lockMutex takes the semaphore's mutex: it creates lock/acquire-<seq> and
// waits, watching its predecessor, until no lower acquire-<seq> is left. It
// returns the mutex node's path.
func (s *Semaphore) lockMutex(w *waiter, data []byte) (string, error) {
	dir := s.dir + "/lock"
	const prefix = "acquire-"
	node, err := w.createSeq(dir, prefix, data, nil)
	if err != nil {
		return "", fmt.Errorf("lease: locking %s: %w", dir, err)
	}
	p := dir + "/" + node
	if err := w.awaitHead(dir, node, func(k string) (int64, bool) { return seqOf(k, prefix) }); err != nil {
		w.removeAfter(p, err)
		return "", err
	}
	return p, nil
}
