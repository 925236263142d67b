package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/cronguard/cronguard/config"
	"github.com/cronguard/cronguard/lease"
	"github.com/cronguard/cronguard/lock"
	"github.com/cronguard/cronguard/session"
)

// leaseSpec is one --lease RES=COUNT:TOTAL, macros expanded and evaluated.
type leaseSpec struct {
	arg string // as given
	lease.Spec
}

// parseLeases checks --lease before anything touches ZooKeeper: syntax,
// macros (CPU, FQDN, MEMMB), arithmetic, COUNT within TOTAL, one lease per
// resource. An error is cronguard's own failure (exit 125).
func (e *runEnv) parseLeases() error {
	e.leases = nil
	if len(e.o.leases) == 0 {
		return nil
	}
	m := lease.LocalMacros(e.st.hostname)
	seen := map[string]string{}
	for _, arg := range e.o.leases {
		sp, err := lease.ParseSpec(arg, m)
		if err != nil {
			return fmt.Errorf("--lease %q: %w", arg, err)
		}
		if prev, dup := seen[sp.Resource]; dup {
			return fmt.Errorf("--lease %q: resource %q is already leased by --lease %q", arg, sp.Resource, prev)
		}
		seen[sp.Resource] = arg
		e.leases = append(e.leases, leaseSpec{arg: arg, Spec: sp})
	}
	if e.o.noLock {
		// Without a lock the lock name still names the queue entries.
		if err := lock.ValidateName(e.lockName); err != nil {
			return fmt.Errorf("--lease: the lock name names the queue entries: %w", err)
		}
	}
	return nil
}

// acquireLeases takes the run's leases, one resource after the other in
// the order of the fleet config's "resources" (switchman's order, which
// keeps two jobs from each holding what the other waits for). For each it
// queues in <prefix>/queues/<resource>, waits for its turn (watching its
// predecessor), takes the lease from <prefix>/semaphores/<resource>
// (watching the leases while it does not fit) and leaves the queue. The
// wait is bounded by --wait when set (together with the wait for the
// lock), else by resources_wait_timeout (0: no bound, as switchman). The
// leases are ephemeral nodes of the run's session: closing it, once the job
// is confirmed dead, gives them back (on a dead link, its expiry does).
func (e *runEnv) acquireLeases(ctx context.Context) error {
	if len(e.leases) == 0 {
		return nil
	}
	sess := e.session()
	order := e.leaseOrdered
	deadline, _ := e.waitDeadline()
	// The deadline bounds every step, requests that get no answer included.
	wctx := ctx
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		wctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	start := time.Now()
	leaseBusy := func(sp leaseSpec) error {
		return e.skip(reasonLeaseBusy, func(ev *zerolog.Event) *zerolog.Event {
			return ev.Str("resource", sp.Resource).Int64("count", sp.Count).Int64("total", sp.Total).
				Dur("waited_ms", time.Since(start))
		})
	}
	overBudget := func() bool { return ctx.Err() == nil && wctx.Err() != nil }

	// switchman: a task already queued for any of its resources skips.
	for _, sp := range order {
		q := lease.NewQueue(sess, e.st.root, sp.Resource)
		queued, err := q.Queued(wctx, e.lockName)
		if err != nil {
			if overBudget() {
				return leaseBusy(sp)
			}
			return e.waitFailed(err)
		}
		if queued {
			return e.skipQueued(q.Dir())
		}
	}

	data := e.lockData()
	for _, sp := range order {
		l, err := e.takeLease(wctx, sess, sp, data, deadline)
		switch {
		case err == nil:
			e.log.Debug().Str("resource", sp.Resource).Int64("count", sp.Count).Int64("total", sp.Total).
				Str("lease", l.Path()).Dur("waited_ms", time.Since(start)).Msg("lease acquired")
			continue
		case errors.Is(err, lease.ErrAlreadyQueued):
			return e.skipQueued(lease.QueuePath(e.st.root, sp.Resource))
		case errors.Is(err, lease.ErrTimeout), overBudget():
			return leaseBusy(sp)
		default:
			return e.waitFailed(fmt.Errorf("lease %s: %w", sp.Resource, err))
		}
	}
	return nil
}

// takeLease queues for one resource, waits for the head of the queue, takes
// the lease and leaves the queue.
func (e *runEnv) takeLease(ctx context.Context, sess *session.Session, sp leaseSpec, data []byte, deadline time.Time) (*lease.Lease, error) {
	acl := lease.WithACL(e.nodeACL())
	ticket, err := lease.NewQueue(sess, e.st.root, sp.Resource, acl).Join(ctx, e.lockName, data)
	if err != nil {
		return nil, err
	}
	e.log.Debug().Str("resource", sp.Resource).Str("queue", ticket.Path()).Msg("queued for a lease")
	if err := ticket.Wait(ctx, deadline); err != nil {
		return nil, err // the entry goes with the session the run closes
	}
	l, err := lease.NewSemaphore(sess, e.st.root, sp.Resource, acl).Acquire(ctx, sp.Count, sp.Total, data, deadline)
	if err == nil {
		// Leave the queue at once so that the next in line may try, but
		// without holding up this run.
		go ticket.Leave()
	}
	return l, err
}

// leaseOrder checks the leased resources against the fleet config's
// "resources" (macros expanded) and sorts them in that list's order.
// It runs when the fleet config is first read, before anything is written.
func (e *runEnv) leaseOrder(fleet *config.Fleet) ([]leaseSpec, error) {
	m := lease.LocalMacros(e.st.hostname)
	pos := map[string]int{}
	for i, r := range fleet.Resources {
		r = m.Expand(r)
		if _, ok := pos[r]; !ok {
			pos[r] = i
		}
	}
	var unknown []string
	for _, sp := range e.leases {
		if _, ok := pos[sp.Resource]; !ok {
			unknown = append(unknown, sp.Resource)
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("--lease: unknown resource(s) %s: list them in the fleet config's \"resources\" (now %q)",
			strings.Join(unknown, ", "), fleet.Resources)
	}
	order := slices.Clone(e.leases)
	slices.SortStableFunc(order, func(a, b leaseSpec) int { return pos[a.Resource] - pos[b.Resource] })
	return order, nil
}
