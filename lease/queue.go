package lease

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/cronguard/cronguard/session"
)

// QueuePath is switchman's queue for a resource: <prefix>/queues/<resource>.
func QueuePath(prefix, resource string) string { return prefix + "/queues/" + resource }

// LockQueuePath is where --wait waiters for locks queue:
// <prefix>/queues/_locks, entries <lock>-<seq> like a resource queue's.
func LockQueuePath(prefix string) string { return QueuePath(prefix, LockQueueName) }

// SemaphorePath is switchman's semaphore for a resource:
// <prefix>/semaphores/<resource>.
func SemaphorePath(prefix, resource string) string { return prefix + "/semaphores/" + resource }

// Queue is a fair FIFO of waiters: the ephemeral sequential children
// <name>-<seq> of one directory, served in sequence order. It is
// switchman's queue (App::Switchman's queue_up, is_task_in_queue and
// wait_in_queue).
type Queue struct {
	sess   *session.Session
	prefix string
	name   string
	dir    string
	opts   nodeOpts
}

// NewQueue is the queue <prefix>/queues/<name>, created on the first Join
// (the prefix must exist).
func NewQueue(sess *session.Session, prefix, name string, opts ...Option) *Queue {
	return &Queue{sess: sess, prefix: prefix, name: name, dir: QueuePath(prefix, name), opts: applyOptions(opts)}
}

// Dir is the queue's directory.
func (q *Queue) Dir() string { return q.dir }

func entryRE(name string) *regexp.Regexp {
	return regexp.MustCompile(`^` + regexp.QuoteMeta(name) + `-\d+$`)
}

// Queued reports whether an entry named name-<seq> is in the queue
// (switchman's is_task_in_queue).
func (q *Queue) Queued(ctx context.Context, name string) (bool, error) {
	w, stop := newWaiter(ctx, q.sess, time.Time{}, nil)
	defer stop()
	kids, err := w.children(q.dir)
	if err != nil {
		return false, fmt.Errorf("lease: reading queue %s: %w", q.dir, err)
	}
	re := entryRE(name)
	for _, k := range kids {
		if re.MatchString(k) {
			return true, nil
		}
	}
	return false, nil
}

// Ticket is a place in a queue.
type Ticket struct {
	q    *Queue
	node string // name-<seq>
	seq  int64
}

// Path is the ticket's znode.
func (t *Ticket) Path() string { return t.q.dir + "/" + t.node }

// Join appends an entry name-<seq> holding data. When an entry of the same
// name is ahead of it, the new entry is removed again and ErrAlreadyQueued
// returned: of two runs of one task that queue at once, exactly one stays.
func (q *Queue) Join(ctx context.Context, name string, data []byte) (*Ticket, error) {
	w, stop := newWaiter(ctx, q.sess, time.Time{}, q.opts.acl)
	defer stop()
	if err := w.ensureDirs(q.prefix, q.prefix, "queues", q.name); err != nil {
		return nil, err
	}
	node, err := w.createSeq(q.dir, name+"-", data, nil)
	if err != nil {
		return nil, fmt.Errorf("lease: joining queue %s: %w", q.dir, err)
	}
	seq, _ := seqOf(node, name+"-")
	t := &Ticket{q: q, node: node, seq: seq}
	kids, err := w.children(q.dir)
	if err != nil {
		w.removeAfter(t.Path(), err)
		return nil, fmt.Errorf("lease: reading queue %s: %w", q.dir, err)
	}
	for _, k := range kids {
		if s, ok := seqOf(k, name+"-"); ok && s < seq {
			_ = t.Leave()
			return nil, ErrAlreadyQueued
		}
	}
	return t, nil
}

// Wait returns when the ticket is at the head of the queue: no entry with a
// lower sequence number is left. It watches only its predecessor (the entry
// with the next lower sequence number, whatever its name, as switchman
// 1.16 does). It returns ErrTimeout at the deadline (zero: none) and
// ErrLostPosition when the entry was deleted by someone else. The ticket
// stays in the queue either way: Leave it.
func (t *Ticket) Wait(ctx context.Context, deadline time.Time) error {
	w, stop := newWaiter(ctx, t.q.sess, deadline, nil)
	defer stop()
	return w.awaitHead(t.q.dir, t.node, trailingSeq)
}

// Leave removes the entry. It is safe to call more than once.
func (t *Ticket) Leave() error {
	if t == nil || t.node == "" {
		return nil
	}
	err := remove(t.q.sess, t.Path())
	if err == nil {
		t.node = ""
	}
	return err
}
