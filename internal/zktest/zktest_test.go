package zktest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// sessionStates records a client's session state changes so tests can wait
// for e.g. StateHasSession after a reconnect, or StateExpired.
type sessionStates struct {
	mu   sync.Mutex
	seen []zk.State
}

func (r *sessionStates) callback(ev zk.Event) {
	if ev.Type != zk.EventSession {
		return
	}
	r.mu.Lock()
	r.seen = append(r.seen, ev.State)
	r.mu.Unlock()
}

// mark returns a position; waitFor only considers states after it.
func (r *sessionStates) mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

func (r *sessionStates) waitFor(t *testing.T, from int, want zk.State, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r.mu.Lock()
		seen := append([]zk.State(nil), r.seen[from:]...)
		r.mu.Unlock()
		for _, s := range seen {
			if s == want {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("client never reached %v within %v; states since mark: %v", want, timeout, seen)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// testLogger forwards go-zookeeper's log lines to the test while it runs
// and drops them afterwards (t.Logf panics once a test has finished, and
// the client's goroutines may outlive Close).
type testLogger struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (l *testLogger) Printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done {
		l.t.Logf("zk client: "+format, args...)
	}
}

// connect opens a go-zookeeper session and waits until it is established.
func connect(t *testing.T, servers []string, sessionTimeout time.Duration) (*zk.Conn, *sessionStates) {
	t.Helper()
	states := &sessionStates{}
	logger := &testLogger{t: t}
	t.Cleanup(func() {
		logger.mu.Lock()
		logger.done = true
		logger.mu.Unlock()
	})
	conn, _, err := zk.Connect(servers, sessionTimeout,
		zk.WithLogInfo(false), zk.WithLogger(logger), zk.WithEventCallback(states.callback))
	if err != nil {
		t.Fatalf("zk.Connect(%v): %v", servers, err)
	}
	t.Cleanup(conn.Close)
	states.waitFor(t, 0, zk.StateHasSession, 10*time.Second)
	return conn, states
}

// eventually retries f until it succeeds, for operations that fail while a
// client reconnects or a quorum re-forms.
func eventually(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %v: %v", what, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

var acl = zk.WorldACL(zk.PermAll)

func TestIntegration_StandaloneCreateRead(t *testing.T) {
	began := time.Now()
	s := StartServer(t)
	t.Logf("standalone server ready in %v", time.Since(began))

	if !strings.HasPrefix(s.Addr(), "127.0.0.1:") {
		t.Fatalf("Addr = %q, want 127.0.0.1:port", s.Addr())
	}
	if m, err := s.Mode(); err != nil || m != "standalone" {
		t.Fatalf("Mode = %q, %v; want standalone", m, err)
	}
	// The configuration really took effect.
	conf, err := s.FourLetter("conf")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"tickTime=200", "minSessionTimeout=400", "maxSessionTimeout=4000"} {
		if !strings.Contains(conf, want) {
			t.Errorf("conf lacks %q:\n%s", want, conf)
		}
	}

	conn, _ := connect(t, []string{s.Addr()}, 4*time.Second)
	if _, err := conn.Create("/cronguard", []byte("hello"), 0, acl); err != nil {
		t.Fatalf("create: %v", err)
	}
	data, _, err := conn.Get("/cronguard")
	if err != nil || string(data) != "hello" {
		t.Fatalf("get = %q, %v; want hello", data, err)
	}
	mntr, err := s.FourLetter("mntr")
	if err != nil || !strings.Contains(mntr, "zk_server_state\tstandalone") {
		t.Fatalf("mntr = %q, %v", mntr, err)
	}
	if _, err := s.FourLetter("toolong"); err == nil {
		t.Fatal("FourLetter accepted a 7-letter command")
	}
}

func TestIntegration_SessionTimeoutOptions(t *testing.T) {
	s := StartServer(t, WithTickTime(100*time.Millisecond), WithSessionTimeouts(300*time.Millisecond, 900*time.Millisecond))
	conf, err := s.FourLetter("conf")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"tickTime=100", "minSessionTimeout=300", "maxSessionTimeout=900"} {
		if !strings.Contains(conf, want) {
			t.Errorf("conf lacks %q:\n%s", want, conf)
		}
	}
	// The server clamps the requested 10s to maxSessionTimeout.
	conn, _ := connect(t, []string{s.Addr()}, 10*time.Second)
	if _, _, err := conn.Exists("/"); err != nil {
		t.Fatal(err)
	}
	cons, err := s.FourLetter("cons")
	if err != nil || !strings.Contains(cons, "to=900") {
		t.Fatalf("cons = %q, %v; want a session with to=900", cons, err)
	}
}

func TestIntegration_KillRestartKeepsData(t *testing.T) {
	s := StartServer(t)
	addr := s.Addr()
	conn, states := connect(t, []string{addr}, 4*time.Second)
	if _, err := conn.Create("/persist", []byte("v1"), 0, acl); err != nil {
		t.Fatal(err)
	}
	sid := conn.SessionID()

	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	if s.Running() || s.PID() != 0 {
		t.Fatal("server still running after Kill")
	}
	if _, err := s.Mode(); err == nil {
		t.Fatal("Mode succeeded on a killed server")
	}
	if err := s.Kill(); err != nil {
		t.Fatalf("Kill of a stopped server: %v", err)
	}

	mark := states.mark()
	began := time.Now()
	if err := s.Restart(ctxTimeout(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	t.Logf("restart ready in %v", time.Since(began))
	if s.Addr() != addr {
		t.Fatalf("Addr changed across restart: %s -> %s", addr, s.Addr())
	}
	// The same client reconnects and resumes its session: ZooKeeper
	// persisted it and restarts its timeout on load.
	states.waitFor(t, mark, zk.StateHasSession, 10*time.Second)
	if got := conn.SessionID(); got != sid {
		t.Fatalf("session changed across restart: %#x -> %#x", sid, got)
	}
	var data []byte
	eventually(t, 5*time.Second, "get after restart", func() (err error) {
		data, _, err = conn.Get("/persist")
		return err
	})
	if string(data) != "v1" {
		t.Fatalf("data after restart = %q, want v1", data)
	}

	// Stop (SIGTERM) and Restart of a running server also work.
	if err := s.Restart(ctxTimeout(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.Restart(ctxTimeout(t, time.Second)); err == nil {
		t.Fatal("Restart after Close succeeded")
	}
}

func TestIntegration_FreezeThaw(t *testing.T) {
	s := StartServer(t)
	conn, _ := connect(t, []string{s.Addr()}, 4*time.Second)
	if _, err := conn.Create("/frozen", []byte("a"), 0, acl); err != nil {
		t.Fatal(err)
	}

	if err := s.Freeze(); err != nil {
		t.Fatal(err)
	}
	if !s.Frozen() || !s.Running() {
		t.Fatalf("Frozen=%v Running=%v after Freeze", s.Frozen(), s.Running())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	_, err := s.FourLetterContext(ctx, "srvr")
	cancel()
	if err == nil {
		t.Fatal("a frozen server answered srvr")
	}

	// A request sent to the frozen server gets no reply...
	res := make(chan error, 1)
	go func() {
		_, err := conn.Set("/frozen", []byte("b"), -1)
		res <- err
	}()
	select {
	case err := <-res:
		t.Fatalf("request to frozen server returned %v", err)
	case <-time.After(500 * time.Millisecond):
	}
	// ...until the server thaws, well within the client's read timeout
	// (2/3 of the session timeout), so the request completes normally.
	if err := s.Thaw(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-res:
		if err != nil {
			t.Fatalf("request after thaw: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("request still pending 5s after thaw")
	}
	if m, err := s.Mode(); err != nil || m != "standalone" {
		t.Fatalf("Mode after thaw = %q, %v", m, err)
	}
	if data, _, err := conn.Get("/frozen"); err != nil || string(data) != "b" {
		t.Fatalf("get after thaw = %q, %v", data, err)
	}
	// Stop must cope with a frozen JVM.
	if err := s.Freeze(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
}

func TestIntegration_EnsembleFailover(t *testing.T) {
	began := time.Now()
	e := StartTestEnsemble(t, 3)
	t.Logf("3-server ensemble ready in %v", time.Since(began))

	if n := len(e.Servers()); n != 3 {
		t.Fatalf("%d servers", n)
	}
	leaders := 0
	for _, s := range e.Servers() {
		m, err := s.Mode()
		if err != nil {
			t.Fatalf("%v: %v", s, err)
		}
		if m == "leader" {
			leaders++
		} else if m != "follower" {
			t.Fatalf("%v mode %q", s, m)
		}
	}
	if leaders != 1 {
		t.Fatalf("%d leaders", leaders)
	}
	if got := strings.Count(e.Addrs(), ","); got != 2 {
		t.Fatalf("Addrs = %q", e.Addrs())
	}

	conn, _ := connect(t, e.AddrList(), 4*time.Second)
	if _, err := conn.Create("/failover", []byte("0"), 0, acl); err != nil {
		t.Fatal(err)
	}
	write := func(conn *zk.Conn, v string) {
		t.Helper()
		eventually(t, 15*time.Second, "write "+v, func() error {
			_, err := conn.Set("/failover", []byte(v), -1)
			return err
		})
		data, _, err := conn.Get("/failover")
		if err != nil || string(data) != v {
			t.Fatalf("get = %q, %v; want %q", data, err, v)
		}
	}

	// 1. Crash the leader: the other two elect a new one.
	old, err := e.Leader()
	if err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	if err := old.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := e.WaitReady(ctxTimeout(t, 20*time.Second)); err != nil {
		t.Fatal(err)
	}
	t.Logf("new leader elected %v after SIGKILL of %v", time.Since(killed), old)
	newLeader, err := e.Leader()
	if err != nil {
		t.Fatal(err)
	}
	if newLeader == old {
		t.Fatal("killed server is still leader")
	}
	write(conn, "1")

	// 2. The old leader comes back as a follower and catches up.
	if err := old.Restart(ctxTimeout(t, 20*time.Second)); err != nil {
		t.Fatal(err)
	}
	if m, err := old.Mode(); err != nil || m != "follower" {
		t.Fatalf("restarted old leader mode = %q, %v; want follower", m, err)
	}
	if err := e.WaitReady(ctxTimeout(t, 20*time.Second)); err != nil {
		t.Fatal(err)
	}
	direct, _ := connect(t, []string{old.Addr()}, 4*time.Second)
	eventually(t, 5*time.Second, "read on restarted server", func() error {
		data, _, err := direct.Get("/failover")
		if err == nil && string(data) != "1" {
			err = fmt.Errorf("data %q, want 1", data)
		}
		return err
	})

	// 3. Freeze the leader: once the followers' syncLimit runs out they
	// elect a new leader; the thawed old leader steps down and rejoins.
	frozen, err := e.Leader()
	if err != nil {
		t.Fatal(err)
	}
	froze := time.Now()
	if err := frozen.Freeze(); err != nil {
		t.Fatal(err)
	}
	if err := e.WaitReady(ctxTimeout(t, 20*time.Second)); err != nil {
		t.Fatal(err)
	}
	t.Logf("new leader elected %v after freezing %v", time.Since(froze), frozen)
	if l, err := e.Leader(); err != nil || l == frozen {
		t.Fatalf("leader while %v frozen: %v, %v", frozen, l, err)
	}
	// A client of the surviving pair can write. (The original client may be
	// stuck: a frozen JVM's kernel still completes TCP handshakes, and
	// go-zookeeper waits 10x its read timeout for the connect response, so
	// a client that picks the frozen server while reconnecting hangs there
	// instead of failing over.)
	var live []string
	for _, s := range e.Servers() {
		if s != frozen {
			live = append(live, s.Addr())
		}
	}
	survivor, _ := connect(t, live, 4*time.Second)
	write(survivor, "2")
	if err := frozen.Thaw(); err != nil {
		t.Fatal(err)
	}
	if err := e.WaitReady(ctxTimeout(t, 20*time.Second)); err != nil {
		t.Fatal(err)
	}
	if m, err := frozen.Mode(); err != nil || m != "follower" {
		t.Fatalf("thawed old leader mode = %q, %v; want follower", m, err)
	}
	write(conn, "3")
	if got := len(e.Followers()); got != 2 {
		t.Fatalf("%d followers after thaw, want 2", got)
	}
}

// TestIntegration_Proxy runs the proxy faults against one real server.
func TestIntegration_Proxy(t *testing.T) {
	s := StartServer(t)

	newProxy := func(t *testing.T) *Proxy {
		p, err := NewProxy(s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("proxy actions: %v", p.Actions())
			}
			p.Close()
		})
		return p
	}

	t.Run("Forwards", func(t *testing.T) {
		p := newProxy(t)
		conn, _ := connect(t, []string{p.Addr()}, 4*time.Second)
		if _, err := conn.Create("/via-proxy", []byte("x"), 0, acl); err != nil {
			t.Fatal(err)
		}
		if data, _, err := conn.Get("/via-proxy"); err != nil || string(data) != "x" {
			t.Fatalf("get = %q, %v", data, err)
		}
	})

	t.Run("BlackholeStallsThenHealReconnectsSameSession", func(t *testing.T) {
		p := newProxy(t)
		conn, states := connect(t, []string{p.Addr()}, 4*time.Second)
		sid := conn.SessionID()
		p.Blackhole()
		res := make(chan error, 1)
		go func() {
			_, _, err := conn.Get("/")
			res <- err
		}()
		select {
		case err := <-res:
			t.Fatalf("request through blackhole returned %v", err)
		case <-time.After(500 * time.Millisecond):
		}
		mark := states.mark()
		p.Heal()
		// Heal resets the blackholed connection: the pending request fails
		// and the client reconnects within its session timeout.
		select {
		case err := <-res:
			if !errors.Is(err, zk.ErrConnectionClosed) {
				t.Logf("pending request after heal: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("request still pending 5s after heal")
		}
		states.waitFor(t, mark, zk.StateHasSession, 10*time.Second)
		if got := conn.SessionID(); got != sid {
			t.Fatalf("session changed: %#x -> %#x", sid, got)
		}
		eventually(t, 5*time.Second, "get after heal", func() error {
			_, _, err := conn.Get("/")
			return err
		})
	})

	t.Run("ResetReconnectsSameSession", func(t *testing.T) {
		p := newProxy(t)
		conn, states := connect(t, []string{p.Addr()}, 4*time.Second)
		sid := conn.SessionID()
		mark := states.mark()
		p.Reset()
		states.waitFor(t, mark, zk.StateDisconnected, 5*time.Second)
		states.waitFor(t, mark, zk.StateHasSession, 10*time.Second)
		if got := conn.SessionID(); got != sid {
			t.Fatalf("session changed: %#x -> %#x", sid, got)
		}
		eventually(t, 5*time.Second, "get after reset", func() error {
			_, _, err := conn.Get("/")
			return err
		})
		if a := p.Actions(); len(a) != 1 || a[0].Name != "reset" {
			t.Fatalf("actions = %v", a)
		}
	})

	t.Run("LongBlackholeExpiresSession", func(t *testing.T) {
		p := newProxy(t)
		// 1s session (the server's minimum at tick 200ms is 400ms).
		conn, states := connect(t, []string{p.Addr()}, time.Second)
		if _, err := conn.Create("/lock", nil, zk.FlagEphemeral, acl); err != nil {
			t.Fatal(err)
		}
		observer, _ := connect(t, []string{s.Addr()}, 4*time.Second)

		p.Blackhole()
		cut := time.Now()
		// The server, hearing nothing, expires the session and deletes
		// the ephemeral node, while the client is cut off.
		eventually(t, 10*time.Second, "ephemeral deleted by expiry", func() error {
			ok, _, err := observer.Exists("/lock")
			if err == nil && ok {
				err = errors.New("/lock still exists")
			}
			return err
		})
		t.Logf("server expired the partitioned session after %v", time.Since(cut))
		mark := states.mark()
		p.Heal()
		states.waitFor(t, mark, zk.StateExpired, 10*time.Second)
	})
}
