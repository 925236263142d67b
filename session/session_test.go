package session

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/rs/zerolog"

	"github.com/cronguard/cronguard/internal/zktest"
)

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
		{ErrExpired, false},
		{&Loss{Reason: ReasonSessionExpired}, false},
		{context.DeadlineExceeded, false},
	} {
		if got := Answered(tc.err); got != tc.want {
			t.Errorf("Answered(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func dialT(t *testing.T, addrs []string, opts ...Option) *Session {
	t.Helper()
	opts = append([]Option{WithConnectTimeout(5 * time.Second), WithLogger(zerolog.New(zerolog.NewTestWriter(t)))}, opts...)
	s, err := Dial(context.Background(), addrs, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// probeRoot is a heartbeat for sessions that hold no lock.
func probeRoot(s *Session) func() bool {
	return func() bool {
		return s.Do(func() error { _, _, e := s.Conn().Exists("/"); return e }) == nil
	}
}

func TestIntegration_NegotiatedTimeout(t *testing.T) {
	srv := zktest.StartServer(t) // tickTime 200ms: sessions in [0.4s, 4s]
	s := dialT(t, []string{srv.Addr()}, WithSessionTimeout(30*time.Second))
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

// hungServer accepts connections and never answers: a frozen (SIGSTOPped)
// ZooKeeper looks like this to a client, as the kernel still accepts.
func hungServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// One hung member of the server list must not fail a connect: every listed
// server gets its share of the connect timeout. go-zookeeper shuffles the
// list, so the hung one comes first in about half of the dials.
func TestIntegration_HungServerLeavesTimeForTheNext(t *testing.T) {
	srv := zktest.StartServer(t)
	hung := hungServer(t)
	const connectTimeout = 2 * time.Second
	for i := 0; i < 6; i++ {
		start := time.Now()
		s, err := Dial(context.Background(), []string{hung, srv.Addr()},
			WithConnectTimeout(connectTimeout), WithSessionTimeout(4*time.Second))
		if err != nil {
			t.Fatalf("dial %d: %v after %v", i, err, time.Since(start))
		}
		s.Close()
		if el := time.Since(start); el > connectTimeout+500*time.Millisecond {
			t.Errorf("dial %d took %v, want within the connect timeout %v", i, el, connectTimeout)
		}
	}
}

// An idle but healthy session must never trip the fence.
func TestIntegration_HealthyIdleSessionNeverFences(t *testing.T) {
	srv := zktest.StartServer(t)
	s := dialT(t, []string{srv.Addr()}, WithSessionTimeout(1500*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.Guard(ctx, probeRoot(s))
	select {
	case <-s.Done():
		t.Fatalf("healthy session ended: %v", s.Err())
	case <-time.After(3 * s.Timeout()):
	}
	if age := time.Duration(bootNow() - s.LastAnswer()); age > s.Timeout()/5 {
		t.Errorf("last answer is %v old with a T/10 heartbeat", age)
	}
}

// guarded dials through a fault-injecting proxy and starts the fence
// machinery.
func guarded(t *testing.T, srv *zktest.Server, timeout time.Duration) (*Session, *zktest.Proxy) {
	t.Helper()
	px, err := zktest.NewProxy(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { px.Close() })
	s := dialT(t, []string{px.Addr()}, WithSessionTimeout(timeout))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s.Guard(ctx, probeRoot(s))
	return s, px
}

func waitDone(t *testing.T, s *Session, d time.Duration) *Loss {
	t.Helper()
	select {
	case <-s.Done():
		var loss *Loss
		if !errors.As(s.Err(), &loss) {
			t.Fatalf("Err() = %v, want a *Loss", s.Err())
		}
		return loss
	case <-time.After(d):
		t.Fatalf("session not done within %v", d)
		return nil
	}
}

func TestIntegration_FenceFiresAtAThirdOfT(t *testing.T) {
	srv := zktest.StartServer(t)
	s, px := guarded(t, srv, 1500*time.Millisecond)
	T := s.Timeout()
	time.Sleep(T / 5)
	px.Blackhole()
	cut := time.Now()
	loss := waitDone(t, s, T)
	fired := time.Since(cut)
	if loss.Reason != ReasonFence || loss.Now {
		t.Fatalf("%+v, want a fence loss", loss)
	}
	// The alarm is at s + T/3 and s is at most ~T/10 older than the cut.
	if fired > T/3+50*time.Millisecond || fired < T/3-T/10-50*time.Millisecond {
		t.Errorf("fence fired %v after the cut, want about T/3 = %v", fired, T/3)
	}
	killIn := time.Until(loss.KillAt) + fired
	if killIn > 2*T/3+50*time.Millisecond || killIn < 2*T/3-T/10-50*time.Millisecond {
		t.Errorf("KillAt is %v after the cut, want about 2T/3 = %v", killIn, 2*T/3)
	}
	t.Logf("T=%v: fence after %v, SIGKILL deadline %v after the cut", T, fired, killIn)
}

func TestIntegration_BlipsDoNotFence(t *testing.T) {
	srv := zktest.StartServer(t)
	s, px := guarded(t, srv, 4*time.Second)
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
	case <-s.Done():
		t.Fatalf("a blip ended the session: %v", s.Err())
	case <-time.After(T):
	}
	if s.ID() != id || s.Conn().SessionID() != id {
		t.Fatalf("session changed: %#x -> %#x", id, s.Conn().SessionID())
	}
}

// After a session expires, no request may reach the session go-zookeeper
// would open in its place: not one sent after the expiry, and not one
// queued while the link was down.
func TestIntegration_NoRequestReachesANewSession(t *testing.T) {
	srv := zktest.StartServer(t)
	px, err := zktest.NewProxy(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	s := dialT(t, []string{px.Addr()}, WithSessionTimeout(time.Second))
	observer := dialT(t, []string{srv.Addr()})
	if _, err := observer.Conn().Create("/p", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	px.Blackhole()
	for s.Conn().State() == zk.StateHasSession {
		time.Sleep(10 * time.Millisecond)
	}
	// Queued while disconnected: go-zookeeper keeps it for the next connection.
	queued := make(chan error, 1)
	go func() {
		queued <- s.Do(func() error {
			_, e := s.Conn().Create("/p/queued", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
			return e
		})
	}()
	time.Sleep(s.Timeout() + 1500*time.Millisecond) // the server expires the session
	px.Heal()
	loss := waitDone(t, s, 5*time.Second)
	if loss.Reason != ReasonSessionExpired || !loss.Now {
		t.Fatalf("%+v, want session_expired at once", loss)
	}
	after := s.Do(func() error {
		_, e := s.Conn().Create("/p/after", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
		return e
	})
	if !errors.Is(after, ErrExpired) {
		t.Errorf("request after expiry: %v, want ErrExpired at once", after)
	}
	select {
	case err := <-queued:
		if err == nil {
			t.Errorf("the queued create succeeded after expiry")
		}
	case <-time.After(10 * time.Second):
		t.Errorf("the queued request never returned")
	}
	time.Sleep(500 * time.Millisecond) // let anything in flight land
	for _, p := range []string{"/p/queued", "/p/after"} {
		if ok, st, _ := observer.Conn().Exists(p); ok {
			t.Errorf("%s exists, owned by session %#x (ours was %#x)", p, st.EphemeralOwner, s.ID())
		}
	}
}
