package lock

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/rs/zerolog"

	"github.com/cronguard/cronguard/internal/zktest"
)

func TestValidateName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"backup.sh", true},
		{"job-1_x", true},
		{"", false},
		{"a/b", false},
		{".", false},
		{"..", false},
		{"zookeeper", false},
		{"with space", false},
		{"tab\t", false},
		{"nul\x00", false},
		{"bad\xffutf8", false},
		{strings.Repeat("x", MaxNameLen), true},
		{strings.Repeat("x", MaxNameLen+1), false},
	} {
		err := ValidateName(tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidName) {
			t.Errorf("ValidateName(%q) error %v is not ErrInvalidName", tc.name, err)
		}
	}
}

func TestAnswered(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, true},
		{zk.ErrNoNode, true},
		{zk.ErrNodeExists, true},
		{zk.ErrConnectionClosed, false},
		{zk.ErrNoServer, false},
		{zk.ErrSessionExpired, false},
		{zk.ErrClosing, false},
	} {
		if got := Answered(tc.err); got != tc.want {
			t.Errorf("Answered(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func dialT(t *testing.T, addr string, opts ...Option) *Session {
	t.Helper()
	opts = append([]Option{WithConnectTimeout(5 * time.Second), WithLogger(zerolog.New(zerolog.NewTestWriter(t)))}, opts...)
	s, err := Dial(context.Background(), []string{addr}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func mustCreate(t *testing.T, s *Session, p string) {
	t.Helper()
	if _, err := s.Conn().Create(p, []byte(`{}`), 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		t.Fatal(err)
	}
}

func TestIntegration_NegotiatedTimeout(t *testing.T) {
	srv := zktest.StartServer(t) // tickTime 200ms: sessions in [0.4s, 4s]
	s := dialT(t, srv.Addr(), WithSessionTimeout(30*time.Second))
	if got := s.Timeout(); got != 4*time.Second {
		t.Fatalf("Timeout() = %v, want the server's cap of 4s", got)
	}
	if s.ID() == 0 {
		t.Fatal("no session id")
	}
}

func TestIntegration_DialUnreachable(t *testing.T) {
	start := time.Now()
	_, err := Dial(context.Background(), []string{"127.0.0.1:1"}, WithConnectTimeout(500*time.Millisecond))
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("err = %v, want ErrUnreachable", err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("Dial took %v with a 500ms connect timeout", el)
	}
}

func TestIntegration_AcquireBusyWaitRelease(t *testing.T) {
	srv := zktest.StartServer(t)
	a := dialT(t, srv.Addr())
	b := dialT(t, srv.Addr())
	mustCreate(t, a, "/p")
	ctx := context.Background()
	la, err := Acquire(ctx, a, "/p/locks/job", []byte("a"))
	if err != nil {
		t.Fatal(err)
	}
	var holder []byte
	if _, err := Acquire(ctx, b, "/p/locks/job", []byte("b"), WithOnBusy(func(h []byte) { holder = h })); !errors.Is(err, ErrBusy) {
		t.Fatalf("second Acquire: %v, want ErrBusy", err)
	}
	if string(holder) != "a" {
		t.Errorf("holder = %q", holder)
	}
	start := time.Now()
	if _, err := Acquire(ctx, b, "/p/locks/job", []byte("b"), WithWait(300*time.Millisecond)); !errors.Is(err, ErrBusy) {
		t.Fatalf("Acquire with a short wait: %v, want ErrBusy", err)
	}
	if el := time.Since(start); el < 250*time.Millisecond {
		t.Fatalf("gave up after %v, before the wait", el)
	}
	go func() {
		time.Sleep(200 * time.Millisecond)
		la.Release()
	}()
	lb, err := Acquire(ctx, b, "/p/locks/job", []byte("b"), WithWait(5*time.Second))
	if err != nil {
		t.Fatalf("Acquire after release: %v", err)
	}
	if lb.Token() <= la.Token() {
		t.Errorf("fencing token did not grow: %d then %d", la.Token(), lb.Token())
	}
}

func TestIntegration_AcquireMissingPrefix(t *testing.T) {
	srv := zktest.StartServer(t)
	s := dialT(t, srv.Addr())
	_, err := Acquire(context.Background(), s, "/absent/locks/job", nil)
	if err == nil || !strings.Contains(err.Error(), "/absent") {
		t.Fatalf("err = %v, want one naming the missing prefix", err)
	}
	if ok, _, _ := s.Conn().Exists("/absent"); ok {
		t.Fatal("Acquire created the prefix")
	}
}

func nextLoss(t *testing.T, s *Session, d time.Duration) Loss {
	t.Helper()
	select {
	case l := <-s.Losses():
		return l
	case <-time.After(d):
		t.Fatalf("no loss within %v", d)
		return Loss{}
	}
}

func TestIntegration_LockNodeDeletedOrStolen(t *testing.T) {
	srv := zktest.StartServer(t)
	a := dialT(t, srv.Addr())
	other := dialT(t, srv.Addr())
	mustCreate(t, a, "/p")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	l, err := Acquire(ctx, a, "/p/locks/job", nil)
	if err != nil {
		t.Fatal(err)
	}
	l.Watch(ctx)
	if _, err := other.Conn().Set(l.Path(), []byte("x"), -1); err != nil {
		t.Fatal(err)
	}
	if loss := nextLoss(t, a, 5*time.Second); loss.Reason != ReasonLockLost || loss.Now {
		t.Fatalf("data change: %+v, want a graceful lock_lost", loss)
	}
	if err := other.Conn().Delete(l.Path(), -1); err != nil {
		t.Fatal(err)
	}
	if loss := nextLoss(t, a, 5*time.Second); loss.Reason != ReasonLockLost || !loss.Now {
		t.Fatalf("deletion: %+v, want lock_lost at once", loss)
	}
}

func TestIntegration_ProbeSeesForeignOwner(t *testing.T) {
	srv := zktest.StartServer(t)
	a := dialT(t, srv.Addr())
	other := dialT(t, srv.Addr())
	mustCreate(t, a, "/p")
	l, err := Acquire(context.Background(), a, "/p/locks/job", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !l.Probe() {
		t.Fatal("probe of a healthy lock not answered")
	}
	select {
	case loss := <-a.Losses():
		t.Fatalf("healthy probe raised %+v", loss)
	default:
	}
	other.Conn().Delete(l.Path(), -1)
	if _, err := other.Conn().Create(l.Path(), nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	l.Probe()
	if loss := nextLoss(t, a, time.Second); !loss.Now || loss.Reason != ReasonLockLost {
		t.Fatalf("%+v, want lock_lost at once", loss)
	}
}

// An idle but healthy session must never trip the fence.
func TestIntegration_HealthyIdleSessionNeverFences(t *testing.T) {
	srv := zktest.StartServer(t)
	s := dialT(t, srv.Addr(), WithSessionTimeout(1500*time.Millisecond))
	mustCreate(t, s, "/p")
	l, err := Acquire(context.Background(), s, "/p/locks/job", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.Guard(ctx, l.Probe)
	select {
	case loss := <-s.Losses():
		t.Fatalf("healthy session raised %+v", loss)
	case <-time.After(3 * s.Timeout()):
	}
	if age := time.Duration(bootNow() - s.LastAnswer()); age > s.Timeout()/5 {
		t.Errorf("last answer is %v old with a T/10 heartbeat", age)
	}
}

// guardedLock dials through a fault-injecting proxy, takes a lock and
// starts the fence machinery.
func guardedLock(t *testing.T, srv *zktest.Server, timeout time.Duration) (*Session, *zktest.Proxy) {
	t.Helper()
	px, err := zktest.NewProxy(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { px.Close() })
	s := dialT(t, px.Addr(), WithSessionTimeout(timeout))
	mustCreate(t, s, "/p")
	l, err := Acquire(context.Background(), s, "/p/locks/job", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	l.Watch(ctx)
	s.Guard(ctx, l.Probe)
	return s, px
}

func TestIntegration_FenceFiresAtAThirdOfT(t *testing.T) {
	srv := zktest.StartServer(t)
	s, px := guardedLock(t, srv, 1500*time.Millisecond)
	T := s.Timeout()
	time.Sleep(T / 5)
	px.Blackhole()
	cut := time.Now()
	loss := nextLoss(t, s, T)
	fired := time.Since(cut)
	if loss.Reason != ReasonFence || loss.Now {
		t.Fatalf("%+v, want a fence loss", loss)
	}
	// The alarm is at s + T/3 and s is at most ~T/10 older than the cut.
	if fired > T/3+50*time.Millisecond || fired < T/3-T/10-50*time.Millisecond {
		t.Errorf("fence fired %v after the cut, want about T/3 = %v", fired, T/3)
	}
	killIn := time.Until(loss.KillBy) + fired
	if killIn > 2*T/3+50*time.Millisecond || killIn < 2*T/3-T/10-50*time.Millisecond {
		t.Errorf("KillBy is %v after the cut, want about 2T/3 = %v", killIn, 2*T/3)
	}
	t.Logf("T=%v: fence after %v, SIGKILL deadline %v after the cut", T, fired, killIn)
}

func TestIntegration_BlipsDoNotFence(t *testing.T) {
	srv := zktest.StartServer(t)
	s, px := guardedLock(t, srv, 4*time.Second)
	T := s.Timeout()
	id := s.ID()
	// A black hole shorter than T/3 (less the heartbeat's staleness), then
	// a reset healed at once.
	px.Blackhole()
	time.Sleep(T/3 - T/10 - 300*time.Millisecond)
	px.Heal()
	time.Sleep(T / 3)
	px.Reset()
	select {
	case loss := <-s.Losses():
		t.Fatalf("a blip raised %+v", loss)
	case <-time.After(T):
	}
	if s.ID() != id || s.Conn().SessionID() != id {
		t.Fatalf("session changed: %#x -> %#x", id, s.Conn().SessionID())
	}
}

func TestIntegration_ExpiryAfterPartition(t *testing.T) {
	srv := zktest.StartServer(t)
	s, px := guardedLock(t, srv, time.Second)
	T := s.Timeout()
	px.Blackhole()
	if loss := nextLoss(t, s, T); loss.Reason != ReasonFence {
		t.Fatalf("%+v, want the fence first", loss)
	}
	time.Sleep(T + 500*time.Millisecond) // the server expires the session
	px.Heal()
	loss := nextLoss(t, s, 5*time.Second)
	if loss.Reason != ReasonSessionExpired || !loss.Now {
		t.Fatalf("%+v, want session_expired at once", loss)
	}
	select {
	case <-s.Lost():
	default:
		t.Fatal("Lost() not closed after expiry")
	}
}
