package zktest

import (
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// recordServer is an echo server that counts what it receives and can push
// data to its clients, so tests can check both directions of the proxy.
type recordServer struct {
	ln net.Listener

	mu       sync.Mutex
	conns    []net.Conn
	received int
	errs     []error
}

func newRecordServer(t *testing.T) *recordServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &recordServer{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			go func() {
				defer c.Close()
				buf := make([]byte, 1024)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						s.mu.Lock()
						s.received += n
						s.mu.Unlock()
						c.Write(buf[:n])
					}
					if err != nil {
						s.mu.Lock()
						s.errs = append(s.errs, err)
						s.mu.Unlock()
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, c := range s.conns {
			c.Close()
		}
	})
	return s
}

func (s *recordServer) addr() string { return s.ln.Addr().String() }

func (s *recordServer) stats() (accepted, received int, errs []error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns), s.received, append([]error(nil), s.errs...)
}

// push writes msg to every connection the server has accepted.
func (s *recordServer) push(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Write([]byte(msg))
	}
}

func newTestProxy(t *testing.T, target string) *Proxy {
	t.Helper()
	p, err := NewProxy(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// mustEcho writes msg and expects it back within a second.
func mustEcho(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(time.Second))
	defer c.SetReadDeadline(time.Time{})
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("reading echo of %q: %v", msg, err)
	}
	if string(buf) != msg {
		t.Fatalf("echo = %q, want %q", buf, msg)
	}
}

// mustStall expects nothing to arrive on c for d, and c to stay open.
func mustStall(t *testing.T, c net.Conn, d time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	defer c.SetReadDeadline(time.Time{})
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	var ne net.Error
	if n > 0 || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("blackholed connection: read %q, err %v; want nothing and a timeout (connection still open)", buf[:n], err)
	}
}

// mustReset expects c to be reset (ECONNRESET) within a second.
func mustReset(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(time.Second))
	_, err := io.ReadAll(c)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read after reset: err = %v, want ECONNRESET", err)
	}
}

func actionNames(p *Proxy) []string {
	var names []string
	for _, a := range p.Actions() {
		names = append(names, a.Name)
	}
	return names
}

func TestProxy_ForwardsBothWaysAndHalfClose(t *testing.T) {
	srv := newRecordServer(t)
	p := newTestProxy(t, srv.addr())
	c := dial(t, p.Addr())
	mustEcho(t, c, "hello")
	mustEcho(t, c, "again")
	// A FIN from the client reaches the server, whose close comes back.
	c.(*net.TCPConn).CloseWrite()
	c.SetReadDeadline(time.Now().Add(time.Second))
	if b, err := io.ReadAll(c); err != nil || len(b) != 0 {
		t.Fatalf("after half-close: read %q, %v; want clean EOF", b, err)
	}
}

func TestProxy_BlackholeDeliversNothingThenHealResets(t *testing.T) {
	srv := newRecordServer(t)
	p := newTestProxy(t, srv.addr())
	c1 := dial(t, p.Addr())
	mustEcho(t, c1, "before")
	accepted, received, _ := srv.stats()

	p.Blackhole()
	if !p.Blackholed() {
		t.Fatal("Blackholed() = false after Blackhole")
	}
	// Client -> server: the write succeeds, nothing arrives, no echo.
	if _, err := c1.Write([]byte("lost")); err != nil {
		t.Fatalf("write into blackhole: %v", err)
	}
	mustStall(t, c1, 300*time.Millisecond)
	// Server -> client: pushed bytes never arrive either.
	srv.push("from-server")
	mustStall(t, c1, 200*time.Millisecond)
	// New connections are accepted but never reach the server.
	c2 := dial(t, p.Addr())
	c2.Write([]byte("new"))
	mustStall(t, c2, 200*time.Millisecond)
	if a, r, _ := srv.stats(); a != accepted || r != received {
		t.Fatalf("server saw accepted=%d received=%d during blackhole, want %d/%d", a, r, accepted, received)
	}
	if n := p.Conns(); n != 2 {
		t.Fatalf("Conns() = %d during blackhole, want 2 (nothing closed)", n)
	}

	p.Heal()
	mustReset(t, c1)
	mustReset(t, c2)
	c3 := dial(t, p.Addr())
	mustEcho(t, c3, "after-heal")

	want := []string{"blackhole", "heal"}
	if got := actionNames(p); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("Actions = %v, want %v", got, want)
	}
	if a := p.Actions(); a[1].Time.Before(a[0].Time) {
		t.Fatalf("action times not ordered: %v", a)
	}
}

func TestProxy_ResetSendsRSTBothWaysAndKeepsForwarding(t *testing.T) {
	srv := newRecordServer(t)
	p := newTestProxy(t, srv.addr())
	c1 := dial(t, p.Addr())
	mustEcho(t, c1, "x")

	p.Reset()
	mustReset(t, c1)
	// The server side was reset too, not closed gracefully.
	deadline := time.Now().Add(time.Second)
	for {
		_, _, errs := srv.stats()
		if len(errs) > 0 {
			if !errors.Is(errs[0], syscall.ECONNRESET) {
				t.Fatalf("server side saw %v, want ECONNRESET", errs[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("server side never saw the reset")
		}
		time.Sleep(5 * time.Millisecond)
	}
	c2 := dial(t, p.Addr())
	mustEcho(t, c2, "still-forwarding")
	if got := actionNames(p); len(got) != 1 || got[0] != "reset" {
		t.Fatalf("Actions = %v, want [reset]", got)
	}
}

func TestProxy_TargetDownResetsClientAndSetTarget(t *testing.T) {
	// A port nobody listens on.
	ports, err := freePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	p := newTestProxy(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])))
	// The reset may even win the race with the client's connect().
	c, err := net.DialTimeout("tcp", p.Addr(), 2*time.Second)
	if err == nil {
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, err = io.ReadAll(c)
	}
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("target down: err = %v, want ECONNRESET", err)
	}

	srv := newRecordServer(t)
	p.SetTarget(srv.addr())
	mustEcho(t, dial(t, p.Addr()), "retargeted")
}

func TestProxy_CloseIsIdempotentAndClosesConns(t *testing.T) {
	srv := newRecordServer(t)
	p, err := NewProxy(srv.addr())
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, p.Addr())
	mustEcho(t, c, "x")
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	mustReset(t, c)
	if _, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		t.Fatal("proxy still accepting after Close")
	}
}
