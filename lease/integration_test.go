package lease

// Integration tests against a real ZooKeeper (internal/zktest), shared by the
// package; each test gets its own prefix.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/rs/zerolog"

	"github.com/cronguard/cronguard/internal/zktest"
	"github.com/cronguard/cronguard/session"
)

var (
	zkOnce sync.Once
	zkSrv  *zktest.Server
	zkErr  error
	zkSeq  atomic.Int64
)

func TestMain(m *testing.M) {
	code := m.Run()
	if zkSrv != nil {
		zkSrv.Close()
	}
	os.Exit(code)
}

// world is one test's ZooKeeper prefix and a raw connection to inspect it.
type world struct {
	t      *testing.T
	addr   string
	prefix string
	raw    *zk.Conn
}

func newWorld(t *testing.T) *world {
	t.Helper()
	zktest.SkipUnlessAvailable(t)
	zkOnce.Do(func() { zkSrv, zkErr = zktest.Start(context.Background()) })
	if zkErr != nil {
		t.Fatal(zkErr)
	}
	w := &world{t: t, addr: zkSrv.Addr(), prefix: fmt.Sprintf("/lease%d", zkSeq.Add(1))}
	conn, _, err := zk.Connect([]string{w.addr}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	w.raw = conn
	if _, err := conn.Create(w.prefix, []byte(`{"resources": ["mem"]}`), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) session(addr string) *session.Session {
	w.t.Helper()
	if addr == "" {
		addr = w.addr
	}
	s, err := session.Dial(context.Background(), []string{addr}, session.WithConnectTimeout(5*time.Second),
		session.WithSessionTimeout(4*time.Second), session.WithLogger(zerolog.Nop()))
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(s.Close)
	return s
}

func (w *world) kids(p string) []string {
	w.t.Helper()
	k, _, err := w.raw.Children(p)
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	if err != nil {
		w.t.Fatal(err)
	}
	slices.Sort(k)
	return k
}

// waitKids waits until p has n children.
func (w *world) waitKids(p string, n int) {
	w.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if len(w.kids(p)) == n {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	w.t.Fatalf("%s has %v, want %d children", p, w.kids(p), n)
}

// take is cronguard's way to a lease: queue, wait for the turn, acquire,
// leave the queue.
func take(ctx context.Context, s *session.Session, prefix, res, name string, count, total int64, deadline time.Time) (*Lease, error) {
	q := NewQueue(s, prefix, res)
	t, err := q.Join(ctx, name, []byte(name))
	if err != nil {
		return nil, err
	}
	defer t.Leave()
	if err := t.Wait(ctx, deadline); err != nil {
		return nil, err
	}
	return NewSemaphore(s, prefix, res).Acquire(ctx, count, total, []byte(name), deadline)
}

// TestIntegration_LeaseTotalRespected: 30 takers on 3 sessions' worth of
// hosts (one session each, as every cronguard run has its own) contend for
// TOTAL 4 with counts 1 and 2; the concurrently held sum never exceeds 4,
// neither as the takers count it nor as ZooKeeper's leases show it.
func TestIntegration_LeaseTotalRespected(t *testing.T) {
	w := newWorld(t)
	const total, n = 4, 30
	var held, maxHeld atomic.Int64
	stopSampling := make(chan struct{})
	var zkMax atomic.Int64
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stopSampling:
				return
			default:
			}
			kids, _, err := w.raw.Children(SemaphorePath(w.prefix, "mem") + "/leases")
			if err == nil {
				if sum, err := Held(kids, total); err == nil && sum > zkMax.Load() {
					zkMax.Store(sum)
				}
			}
			time.Sleep(time.Millisecond)
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := w.session("")
			count := int64(1 + i%2)
			l, err := take(context.Background(), s, w.prefix, "mem", fmt.Sprintf("host%d-job%d", i%3, i), count, total, time.Time{})
			if err != nil {
				errs <- err
				return
			}
			now := held.Add(count)
			for {
				m := maxHeld.Load()
				if now <= m || maxHeld.CompareAndSwap(m, now) {
					break
				}
			}
			time.Sleep(time.Duration(10+rand.IntN(30)) * time.Millisecond)
			held.Add(-count)
			if err := l.Release(); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(stopSampling)
	<-sampled
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d takers, TOTAL %d: max held %d (takers' count), %d (sampled in ZooKeeper), %v", n, total, maxHeld.Load(), zkMax.Load(), time.Since(start).Round(time.Millisecond))
	if maxHeld.Load() > total || zkMax.Load() > total {
		t.Fatalf("TOTAL %d exceeded: %d held at once (ZooKeeper showed %d)", total, maxHeld.Load(), zkMax.Load())
	}
	if maxHeld.Load() < 2 {
		t.Errorf("max held %d: the takers never overlapped, the test proves little", maxHeld.Load())
	}
	if k := w.kids(QueuePath(w.prefix, "mem")); len(k) != 0 {
		t.Errorf("queue entries left behind: %v", k)
	}
	if k := w.kids(SemaphorePath(w.prefix, "mem") + "/leases"); len(k) != 0 {
		t.Errorf("leases left behind: %v", k)
	}
	if k := w.kids(SemaphorePath(w.prefix, "mem") + "/lock"); len(k) != 0 {
		t.Errorf("mutex nodes left behind: %v", k)
	}
}

// TestIntegration_QueueFIFO: with the resource full, five waiters queue one
// after another; they get the lease in that order.
func TestIntegration_QueueFIFO(t *testing.T) {
	w := newWorld(t)
	holder := w.session("")
	first, err := take(context.Background(), holder, w.prefix, "mem", "holder", 1, 1, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	const n = 5
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	qdir := QueuePath(w.prefix, "mem")
	for i := range n {
		name := fmt.Sprintf("job%d", i)
		s := w.session("")
		q := NewQueue(s, w.prefix, "mem")
		tk, err := q.Join(context.Background(), name, nil)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer tk.Leave()
			if err := tk.Wait(context.Background(), time.Time{}); err != nil {
				t.Error(err)
				return
			}
			l, err := NewSemaphore(s, w.prefix, "mem").Acquire(context.Background(), 1, 1, nil, time.Time{})
			if err != nil {
				t.Error(err)
				return
			}
			tk.Leave()
			mu.Lock()
			order = append(order, name)
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
			l.Release()
		}()
		w.waitKids(qdir, i+1)
	}
	if err := first.Release(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	want := []string{"job0", "job1", "job2", "job3", "job4"}
	t.Logf("order of grants: %v", order)
	if !slices.Equal(order, want) {
		t.Fatalf("grants in order %v, want the queue's %v", order, want)
	}
}

// TestIntegration_QueueWaiterSessionDies: a waiter whose session ends (its
// process died) leaves the queue, and the one behind it moves up; also when
// the session expires rather than closes.
func TestIntegration_QueueWaiterSessionDies(t *testing.T) {
	w := newWorld(t)
	holder := w.session("")
	first, err := take(context.Background(), holder, w.prefix, "mem", "holder", 1, 1, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	qdir := QueuePath(w.prefix, "mem")
	// A head that does not move, so that everyone below waits in the queue.
	stuck, err := NewQueue(holder, w.prefix, "mem").Join(context.Background(), "stuck", nil)
	if err != nil {
		t.Fatal(err)
	}

	// A closed session: its entry goes at once.
	dying := w.session("")
	if _, err := NewQueue(dying, w.prefix, "mem").Join(context.Background(), "dying", nil); err != nil {
		t.Fatal(err)
	}
	// An expiring session, through a proxy that will black-hole it.
	proxy, err := zktest.NewProxy(w.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	expiring, err := session.Dial(context.Background(), []string{proxy.Addr()}, session.WithConnectTimeout(5*time.Second),
		session.WithSessionTimeout(time.Second), session.WithLogger(zerolog.Nop()))
	if err != nil {
		t.Fatal(err)
	}
	defer expiring.Close()
	expTicket, err := NewQueue(expiring, w.prefix, "mem").Join(context.Background(), "expiring", nil)
	if err != nil {
		t.Fatal(err)
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- expTicket.Wait(context.Background(), time.Time{}) }()

	survivor := w.session("")
	tk, err := NewQueue(survivor, w.prefix, "mem").Join(context.Background(), "survivor", nil)
	if err != nil {
		t.Fatal(err)
	}
	w.waitKids(qdir, 4)

	dying.Close()
	w.waitKids(qdir, 3)
	proxy.Blackhole()
	died := time.Now()
	w.waitKids(qdir, 2)
	t.Logf("black-holed waiter's entry gone %v after the partition (session timeout %v)", time.Since(died).Round(time.Millisecond), expiring.Timeout())
	if k := w.kids(qdir); len(k) != 2 || !strings.HasPrefix(k[0], "stuck-") || !strings.HasPrefix(k[1], "survivor-") {
		t.Fatalf("queue %v, want the stuck head and the survivor", k)
	}
	proxy.Heal()
	select {
	case err := <-waitErr:
		if !errors.Is(err, session.ErrExpired) {
			t.Errorf("the expired waiter's Wait returned %v, want ErrSessionExpired", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("the expired waiter's Wait did not return")
	}

	got := make(chan error, 1)
	go func() {
		if err := tk.Wait(context.Background(), time.Time{}); err != nil {
			got <- err
			return
		}
		_, err := NewSemaphore(survivor, w.prefix, "mem").Acquire(context.Background(), 1, 1, nil, time.Time{})
		got <- err
	}()
	stuck.Leave()
	first.Release()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the survivor did not get the lease")
	}
}

// TestIntegration_LeaseTimeout: a full resource times out at the deadline,
// in the queue and at the semaphore, and leaves no node behind.
func TestIntegration_LeaseTimeout(t *testing.T) {
	w := newWorld(t)
	holder := w.session("")
	first, err := take(context.Background(), holder, w.prefix, "mem", "holder", 3, 4, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	s := w.session("")
	start := time.Now()
	_, err = take(context.Background(), s, w.prefix, "mem", "late", 2, 4, time.Now().Add(300*time.Millisecond))
	el := time.Since(start)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("take = %v, want ErrTimeout", err)
	}
	t.Logf("timed out after %v (deadline 300ms)", el.Round(time.Millisecond))
	if el < 300*time.Millisecond || el > 2*time.Second {
		t.Errorf("timed out after %v, want about 300ms", el)
	}
	if k := w.kids(QueuePath(w.prefix, "mem")); len(k) != 0 {
		t.Errorf("queue entries left behind: %v", k)
	}
	if k := w.kids(SemaphorePath(w.prefix, "mem") + "/lock"); len(k) != 0 {
		t.Errorf("mutex nodes left behind: %v", k)
	}
	if k := w.kids(SemaphorePath(w.prefix, "mem") + "/leases"); len(k) != 1 {
		t.Errorf("leases %v, want only the holder's", k)
	}
	// A waiter behind a queue head that never moves times out in the queue.
	q := NewQueue(holder, w.prefix, "mem")
	head, err := q.Join(context.Background(), "head", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer head.Leave()
	if _, err := take(context.Background(), s, w.prefix, "mem", "late", 1, 4, time.Now().Add(200*time.Millisecond)); !errors.Is(err, ErrTimeout) {
		t.Fatalf("take behind a stuck head = %v, want ErrTimeout", err)
	}
	if k := w.kids(QueuePath(w.prefix, "mem")); len(k) != 1 {
		t.Errorf("queue %v, want only the stuck head", k)
	}
	first.Release()
}

// TestIntegration_QueueAlreadyQueued: a second entry of one name is refused,
// also when both join at the same moment (exactly one stays).
func TestIntegration_QueueAlreadyQueued(t *testing.T) {
	w := newWorld(t)
	a, b := w.session(""), w.session("")
	for round := range 10 {
		var wg sync.WaitGroup
		res := make([]error, 2)
		tks := make([]*Ticket, 2)
		for i, s := range []*session.Session{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tks[i], res[i] = NewQueue(s, w.prefix, LockQueueName).Join(context.Background(), "job", nil)
			}()
		}
		wg.Wait()
		ok := 0
		for i, err := range res {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, ErrAlreadyQueued):
				t.Fatalf("round %d: join %d: %v", round, i, err)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d of 2 simultaneous joins stayed, want exactly 1", round, ok)
		}
		if queued, err := NewQueue(a, w.prefix, LockQueueName).Queued(context.Background(), "job"); err != nil || !queued {
			t.Fatalf("Queued = %v, %v; want true", queued, err)
		}
		if queued, _ := NewQueue(a, w.prefix, LockQueueName).Queued(context.Background(), "jo"); queued {
			t.Fatal("Queued matched a prefix of the name")
		}
		for _, tk := range tks {
			tk.Leave()
		}
	}
	if k := w.kids(LockQueuePath(w.prefix)); len(k) != 0 {
		t.Errorf("entries left: %v", k)
	}
}

// TestIntegration_SwitchmanNodesRespected: leases, a mutex holder and a
// queue entry written the way switchman writes them hold cronguard back.
func TestIntegration_SwitchmanNodesRespected(t *testing.T) {
	w := newWorld(t)
	sem := SemaphorePath(w.prefix, "mem")
	for _, p := range []string{w.prefix + "/semaphores", sem, sem + "/lock", sem + "/leases", w.prefix + "/queues", QueuePath(w.prefix, "mem")} {
		if _, err := w.raw.Create(p, []byte("0"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	// switchman's lease (count 2 of 4) and its queue entry.
	smLease, err := w.raw.Create(sem+"/leases/2_4_", []byte("other.example 4242"), zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil {
		t.Fatal(err)
	}
	smQueue, err := w.raw.Create(QueuePath(w.prefix, "mem")+"/report-", []byte("other.example 4242"), zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil {
		t.Fatal(err)
	}
	s := w.session("")
	// Already queued under our name: skip.
	if queued, err := NewQueue(s, w.prefix, "mem").Queued(context.Background(), "report"); err != nil || !queued {
		t.Fatalf("switchman's queue entry not seen: %v %v", queued, err)
	}
	// Behind switchman's entry in the queue: we wait for it.
	if _, err := take(context.Background(), s, w.prefix, "mem", "mine", 1, 4, time.Now().Add(200*time.Millisecond)); !errors.Is(err, ErrTimeout) {
		t.Fatalf("take behind switchman's queue entry = %v, want ErrTimeout", err)
	}
	w.raw.Delete(smQueue, -1)
	// 2 held by switchman: 3 more do not fit, 2 do.
	if _, err := take(context.Background(), s, w.prefix, "mem", "mine", 3, 4, time.Now().Add(200*time.Millisecond)); !errors.Is(err, ErrTimeout) {
		t.Fatalf("3 on top of switchman's 2 of 4 = %v, want ErrTimeout", err)
	}
	l, err := take(context.Background(), s, w.prefix, "mem", "mine", 2, 4, time.Now().Add(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	// cronguard's lease is where Net::ZooKeeper::Semaphore counts.
	if k := w.kids(sem + "/leases"); len(k) != 2 || !strings.HasPrefix(k[1], "2_4_") {
		t.Errorf("leases %v, want switchman's and ours as <count>_<total>_<seq>", k)
	}
	l.Release()
	w.raw.Delete(smLease, -1)

	// A switchman process holding the semaphore's mutex holds us back until it lets go.
	mutex, err := w.raw.Create(sem+"/lock/acquire-", []byte("other.example 4242"), zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewSemaphore(s, w.prefix, "mem").Acquire(context.Background(), 1, 4, nil, time.Now().Add(200*time.Millisecond)); !errors.Is(err, ErrTimeout) {
		t.Fatalf("Acquire while switchman holds the mutex = %v, want ErrTimeout", err)
	}
	go func() { time.Sleep(100 * time.Millisecond); w.raw.Delete(mutex, -1) }()
	if _, err := NewSemaphore(s, w.prefix, "mem").Acquire(context.Background(), 1, 4, nil, time.Now().Add(5*time.Second)); err != nil {
		t.Fatalf("Acquire after switchman's mutex went: %v", err)
	}

	// A lease with another TOTAL is an error, as in Net::ZooKeeper::Semaphore.
	if _, err := w.raw.Create(sem+"/leases/1_8_", nil, zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	_, err = NewSemaphore(s, w.prefix, "mem").Acquire(context.Background(), 1, 4, nil, time.Now().Add(time.Second))
	if !errors.Is(err, ErrTotalMismatch) {
		t.Fatalf("Acquire with a TOTAL mismatch = %v, want ErrTotalMismatch", err)
	}
	t.Logf("mismatch error: %v", err)
	if k := w.kids(sem + "/lock"); len(k) != 0 {
		t.Errorf("mutex nodes left behind: %v", k)
	}
}

// switchmanTake is App::Switchman 1.16's way to a lease, ported line by
// line (is_task_in_queue, queue_up, wait_in_queue, then
// Net::ZooKeeper::Semaphore->new with Net::ZooKeeper::Lock, retried every
// poll as switchman's `sleep 1`), on a raw connection.
func switchmanTake(c *zk.Conn, prefix, res, lockname string, count, total int64, poll time.Duration) (string, error) {
	acl := zk.WorldACL(zk.PermAll)
	qdir := prefix + "/queues/" + res
	c.Create(prefix+"/queues", nil, 0, acl)
	c.Create(qdir, nil, 0, acl)
	item, err := c.Create(qdir+"/"+lockname+"-", []byte("sm"), zk.FlagEphemeral|zk.FlagSequence, acl)
	if err != nil {
		return "", err
	}
	defer c.Delete(item, -1)
	pos, _ := trailingSeq(item)
	for { // wait_in_queue
		items, _, err := c.Children(qdir)
		if err != nil {
			return "", err
		}
		var neighbour string
		nseq := int64(-1)
		for _, it := range items {
			if s, ok := trailingSeq(it); ok && s < pos && s > nseq {
				neighbour, nseq = it, s
			}
		}
		if neighbour == "" {
			break
		}
		ok, _, ev, err := c.ExistsW(qdir + "/" + neighbour)
		if err != nil {
			return "", err
		}
		if ok {
			<-ev
		}
	}
	sem := prefix + "/semaphores/" + res
	for _, p := range []string{prefix + "/semaphores", sem, sem + "/lock", sem + "/leases"} {
		c.Create(p, []byte("0"), 0, acl)
	}
	for { // Net::ZooKeeper::Semaphore->new until it succeeds
		lk, err := c.Create(sem+"/lock/acquire-", []byte("sm"), zk.FlagEphemeral|zk.FlagSequence, acl)
		if err != nil {
			return "", err
		}
		for { // Net::ZooKeeper::Lock, blocking
			kids, _, err := c.Children(sem + "/lock")
			if err != nil {
				return "", err
			}
			var less []string
			for _, k := range kids {
				if strings.HasPrefix(k, "acquire-") && sem+"/lock/"+k < lk {
					less = append(less, k)
				}
			}
			if len(less) == 0 {
				break
			}
			slices.Sort(less)
			ok, _, ev, err := c.ExistsW(sem + "/lock/" + less[len(less)-1])
			if err != nil {
				return "", err
			}
			if ok {
				<-ev
			}
		}
		leases, _, err := c.Children(sem + "/leases")
		if err != nil {
			return "", err
		}
		var sum int64
		for _, l := range leases {
			var lc, lt int64
			fmt.Sscanf(strings.ReplaceAll(l, "_", " "), "%d %d", &lc, &lt)
			sum += lc
		}
		if sum+count <= total {
			p, err := c.Create(fmt.Sprintf("%s/leases/%d_%d_", sem, count, total), []byte("sm"), zk.FlagEphemeral|zk.FlagSequence, acl)
			c.Delete(lk, -1)
			return p, err
		}
		c.Delete(lk, -1)
		time.Sleep(poll)
	}
}

// TestIntegration_SwitchmanMixedFleetTotal: switchman (the port above) and cronguard
// takers contend for one resource at once; TOTAL holds across both.
func TestIntegration_SwitchmanMixedFleetTotal(t *testing.T) {
	w := newWorld(t)
	const total, n = 3, 16
	var held, maxHeld atomic.Int64
	var wg sync.WaitGroup
	note := func(c int64) {
		now := held.Add(c)
		for {
			m := maxHeld.Load()
			if now <= m || maxHeld.CompareAndSwap(m, now) {
				return
			}
		}
	}
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			count := int64(1 + i%2)
			name := fmt.Sprintf("job%d", i)
			if i%2 == 0 {
				c, _, err := zk.Connect([]string{w.addr}, 4*time.Second, zk.WithLogInfo(false))
				if err != nil {
					t.Error(err)
					return
				}
				defer c.Close()
				p, err := switchmanTake(c, w.prefix, "mem", name, count, total, 20*time.Millisecond)
				if err != nil {
					t.Error(err)
					return
				}
				note(count)
				time.Sleep(time.Duration(10+rand.IntN(20)) * time.Millisecond)
				note(-count)
				c.Delete(p, -1)
				return
			}
			s := w.session("")
			l, err := take(context.Background(), s, w.prefix, "mem", name, count, total, time.Time{})
			if err != nil {
				t.Error(err)
				return
			}
			note(count)
			time.Sleep(time.Duration(10+rand.IntN(20)) * time.Millisecond)
			note(-count)
			l.Release()
		}()
	}
	wg.Wait()
	t.Logf("%d takers (half switchman's algorithm), TOTAL %d: max held %d, %v", n, total, maxHeld.Load(), time.Since(start).Round(time.Millisecond))
	if maxHeld.Load() > total {
		t.Fatalf("TOTAL %d exceeded in a mixed fleet: %d held at once", total, maxHeld.Load())
	}
}

// TestIntegration_QueueWaitSurvivesConnectionReset: a waiter whose connection is
// reset keeps its place (same session) and still gets the lease.
func TestIntegration_QueueWaitSurvivesConnectionReset(t *testing.T) {
	w := newWorld(t)
	holder := w.session("")
	first, err := take(context.Background(), holder, w.prefix, "mem", "holder", 1, 1, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := zktest.NewProxy(w.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	s := w.session(proxy.Addr())
	got := make(chan error, 1)
	go func() {
		_, err := take(context.Background(), s, w.prefix, "mem", "waiter", 1, 1, time.Now().Add(20*time.Second))
		got <- err
	}()
	w.waitKids(QueuePath(w.prefix, "mem"), 1)
	time.Sleep(50 * time.Millisecond)
	proxy.Reset()
	time.Sleep(100 * time.Millisecond)
	first.Release()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the waiter did not get the lease after a connection reset")
	}
}

// TestIntegration_QueueWaitGone: WaitGone returns when the node goes, and times
// out while it stays.
func TestIntegration_QueueWaitGone(t *testing.T) {
	w := newWorld(t)
	s := w.session("")
	p := w.prefix + "/node"
	if _, err := w.raw.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if err := WaitGone(context.Background(), s, p, time.Now().Add(100*time.Millisecond)); !errors.Is(err, ErrTimeout) {
		t.Fatalf("WaitGone on a staying node = %v", err)
	}
	go func() { time.Sleep(50 * time.Millisecond); w.raw.Delete(p, -1) }()
	if err := WaitGone(context.Background(), s, p, time.Now().Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
}

// TestIntegration_LeaseSemaphoreAloneRespectsTotal: takers that skip the queue
// (as any Net::ZooKeeper::Semaphore user may) and call Acquire at once are
// still held to TOTAL by the semaphore's mutex.
func TestIntegration_LeaseSemaphoreAloneRespectsTotal(t *testing.T) {
	w := newWorld(t)
	const total, n = 2, 20
	var held, maxHeld atomic.Int64
	var wg sync.WaitGroup
	sessions := make([]*session.Session, n)
	for i := range sessions {
		sessions[i] = w.session("")
	}
	gate := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			l, err := NewSemaphore(sessions[i], w.prefix, "mem").Acquire(context.Background(), 1, total, nil, time.Time{})
			if err != nil {
				t.Error(err)
				return
			}
			now := held.Add(1)
			for {
				m := maxHeld.Load()
				if now <= m || maxHeld.CompareAndSwap(m, now) {
					break
				}
			}
			time.Sleep(5 * time.Millisecond)
			held.Add(-1)
			l.Release()
		}()
	}
	close(gate)
	wg.Wait()
	t.Logf("%d direct takers, TOTAL %d: max held %d", n, total, maxHeld.Load())
	if maxHeld.Load() > total {
		t.Fatalf("TOTAL %d exceeded: %d held at once", total, maxHeld.Load())
	}
}

// A lease is created only while this session holds the semaphore's mutex:
// the create runs in one multi-op with a check of the mutex node. With the
// mutex gone (our session expired and another took the semaphore), the
// create fails and no lease appears.
func TestIntegration_LeaseCreateNeedsTheMutex(t *testing.T) {
	w := newWorld(t)
	s := w.session("")
	sem := NewSemaphore(s, w.prefix, "mem")
	wt, stop := newWaiter(context.Background(), s, time.Time{}, sem.opts.acl)
	defer stop()
	if err := wt.ensureDirs(w.prefix, w.prefix, "semaphores", "mem", "lock"); err != nil {
		t.Fatal(err)
	}
	if err := wt.ensureDirs(w.prefix, sem.dir, "leases"); err != nil {
		t.Fatal(err)
	}
	mutex, err := sem.lockMutex(wt, nil)
	if err != nil {
		t.Fatal(err)
	}
	guard := &zk.CheckVersionRequest{Path: mutex, Version: 0}
	if _, err := wt.createSeq(sem.dir+"/leases", "1_4_", nil, guard); err != nil {
		t.Fatalf("with the mutex held: %v", err)
	}
	if err := w.raw.Delete(mutex, -1); err != nil {
		t.Fatal(err)
	}
	if _, err := wt.createSeq(sem.dir+"/leases", "1_4_", nil, guard); err == nil {
		t.Fatal("a lease was created without the mutex")
	}
	if kids := w.kids(sem.dir + "/leases"); len(kids) != 1 {
		t.Fatalf("leases %v: want only the one taken under the mutex", kids)
	}
}
