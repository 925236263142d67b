package zktest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Proxy is a fault-injecting TCP proxy placed between a client and a
// ZooKeeper server, to simulate network partitions (Blackhole) and dropped
// connections (Reset) without touching the server.
//
// Semantics:
//   - Forwarding (initial state): each accepted connection gets its own
//     upstream connection to the target; bytes and half-closes (FIN) are
//     passed through, a reset on one side resets the other.
//   - Blackhole: every existing and every new connection stays open but
//     delivers nothing in either direction: bytes are read and discarded, so
//     the sender's writes succeed as if the packets were lost on the wire.
//     New connections are accepted but not dialled upstream. A close by one
//     side is not propagated to the other, as across a real partition; the
//     upstream server therefore only learns of the client's absence through
//     its session timeout.
//   - Heal: forwarding resumes for new connections, and every connection
//     that was blackholed is reset (RST to both client and server). Its
//     byte stream has lost data, so it can never be resumed; resetting it
//     makes the client reconnect immediately — to the same session if the
//     session has not expired — rather than wait for its own read timeout.
//   - Reset: every current connection is closed abruptly with RST on both
//     sides (SO_LINGER 0), as after a router/NAT losing state; the mode is
//     unchanged, so new connections are forwarded unless blackholed.
//
// A chunk whose write had already begun when Blackhole was called may still
// be delivered. Every action is recorded with a timestamp (Actions) so test
// failures can be correlated with client-side events.
type Proxy struct {
	ln net.Listener

	mu         sync.Mutex
	target     string
	blackholed bool
	closed     bool
	conns      map[*proxyConn]struct{}
	actions    []Action

	wg sync.WaitGroup // accept loop and connection goroutines
}

// Action is one recorded proxy action.
type Action struct {
	Time   time.Time
	Name   string // "blackhole", "heal", "reset", "set-target" or "close"
	Detail string // e.g. how many connections were affected
}

// String formats the action for logs.
func (a Action) String() string {
	s := a.Time.Format("15:04:05.000") + " " + a.Name
	if a.Detail != "" {
		s += " (" + a.Detail + ")"
	}
	return s
}

// proxyConn is one client connection and its upstream counterpart.
type proxyConn struct {
	client     *net.TCPConn
	blackholed atomic.Bool

	mu       sync.Mutex
	upstream *net.TCPConn // nil until dialled; never dialled if blackholed on accept
	aborted  bool
}

// NewProxy starts a proxy listening on 127.0.0.1 (random port) that
// forwards connections to target ("host:port").
func NewProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, conns: map[*proxyConn]struct{}{}}
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// Addr returns the address clients should connect to instead of the target.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Target returns the address new connections are forwarded to.
func (p *Proxy) Target() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.target
}

// SetTarget changes where new connections are forwarded to (e.g. another
// ensemble member); existing connections are unaffected.
func (p *Proxy) SetTarget(addr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.target = addr
	p.recordLocked("set-target", addr)
}

// Blackholed reports whether the proxy is currently blackholing.
func (p *Proxy) Blackholed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.blackholed
}

// Conns returns the number of client connections currently held open, so
// tests can wait for a client to have (re)connected through the proxy.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Blackhole stops all delivery, on existing and new connections, without
// closing anything — a network partition. See Proxy for details.
func (p *Proxy) Blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.blackholed = true
	for c := range p.conns {
		c.blackholed.Store(true)
	}
	p.recordLocked("blackhole", fmt.Sprintf("%d connections", len(p.conns)))
}

// Heal ends a Blackhole: new connections are forwarded again and the
// connections that were blackholed are reset so their clients reconnect.
func (p *Proxy) Heal() {
	p.mu.Lock()
	p.blackholed = false
	var dead []*proxyConn
	for c := range p.conns {
		if c.blackholed.Load() {
			dead = append(dead, c)
		}
	}
	p.recordLocked("heal", fmt.Sprintf("reset %d blackholed connections", len(dead)))
	p.mu.Unlock()
	for _, c := range dead {
		p.abort(c)
	}
}

// Reset closes every current connection abruptly (TCP RST to both client
// and server). New connections are handled as before.
func (p *Proxy) Reset() {
	p.mu.Lock()
	all := make([]*proxyConn, 0, len(p.conns))
	for c := range p.conns {
		all = append(all, c)
	}
	p.recordLocked("reset", fmt.Sprintf("%d connections", len(all)))
	p.mu.Unlock()
	for _, c := range all {
		p.abort(c)
	}
}

// Actions returns a copy of the timestamped action log.
func (p *Proxy) Actions() []Action {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Action(nil), p.actions...)
}

func (p *Proxy) recordLocked(name, detail string) {
	p.actions = append(p.actions, Action{Time: time.Now(), Name: name, Detail: detail})
}

// Close stops listening, resets all connections and waits for the proxy's
// goroutines to exit. It is idempotent.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	all := make([]*proxyConn, 0, len(p.conns))
	for c := range p.conns {
		all = append(all, c)
	}
	p.recordLocked("close", fmt.Sprintf("%d connections", len(all)))
	p.mu.Unlock()
	err := p.ln.Close()
	for _, c := range all {
		p.abort(c)
	}
	p.wg.Wait()
	return err
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		nc, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(5 * time.Millisecond) // e.g. EMFILE; don't spin
			continue
		}
		c := &proxyConn{client: nc.(*net.TCPConn)}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			rst(c.client)
			continue
		}
		c.blackholed.Store(p.blackholed)
		target := p.target
		p.conns[c] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.serve(c, target)
	}
}

// serve runs one proxied connection until both directions are finished.
func (p *Proxy) serve(c *proxyConn, target string) {
	defer p.wg.Done()
	defer p.forget(c)

	if c.blackholed.Load() {
		// Partitioned: accept, but never reach the server. Drain the
		// client until it gives up or Heal/Reset/Close aborts us.
		io.Copy(io.Discard, c.client)
		c.client.Close()
		return
	}
	uc, err := net.DialTimeout("tcp", target, 5*time.Second)
	if err != nil {
		// The server is down: the client sees its connection reset, the
		// closest a proxy can get to "connection refused".
		rst(c.client)
		return
	}
	up := uc.(*net.TCPConn)
	c.mu.Lock()
	if c.aborted {
		c.mu.Unlock()
		rst(up)
		return
	}
	c.upstream = up
	c.mu.Unlock()

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.pump(c, c.client, up) }()
	go func() { defer wg.Done(); p.pump(c, up, c.client) }()
	wg.Wait()
	c.client.Close()
	up.Close()
}

// pump copies src to dst until src ends, honouring the blackhole flag.
func (p *Proxy) pump(c *proxyConn, src, dst *net.TCPConn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !c.blackholed.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				p.abort(c)
				return
			}
		}
		if err == nil {
			continue
		}
		switch {
		case c.blackholed.Load():
			// Partition: this side is gone, but the other side must not
			// find out from us. Keep draining the other direction.
			src.Close()
		case errors.Is(err, io.EOF):
			// Orderly close: pass the FIN on, keep the other direction.
			dst.CloseWrite()
		default:
			// Reset or other error: make the other side see a reset too.
			p.abort(c)
		}
		return
	}
}

// abort resets both sides of c (RST via SO_LINGER 0).
func (p *Proxy) abort(c *proxyConn) {
	c.mu.Lock()
	if c.aborted {
		c.mu.Unlock()
		return
	}
	c.aborted = true
	up := c.upstream
	c.mu.Unlock()
	rst(c.client)
	if up != nil {
		rst(up)
	}
}

func (p *Proxy) forget(c *proxyConn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// rst closes a TCP connection with RST instead of FIN.
func rst(c *net.TCPConn) {
	c.SetLinger(0)
	c.Close()
}
