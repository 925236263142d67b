// Package session is cronguard's ZooKeeper session: it knows the negotiated
// timeout T and the send time of the last answered request, which the
// fencing rule needs and go-zookeeper hides, and it has one Done channel
// that closes when the session can no longer be trusted.
package session

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/rs/zerolog"
)

// Sentinel errors of the package; callers map them to exit codes.
var (
	ErrUnreachable = errors.New("session: ZooKeeper unreachable")
	ErrExpired     = errors.New("session: expired")
	ErrClosed      = errors.New("session: closed")
)

// Session is one ZooKeeper session.
//
// Done closes when the session gives no right to run any more: it expired,
// ZooKeeper replaced it, it was closed, or (while Guard runs) the fence
// alarm fired; Err says which. Once it expired, was replaced or was closed,
// every request fails at once and the connection is closed, so no request
// can reach the new session go-zookeeper would otherwise open silently.
type Session struct {
	conn *zk.Conn
	log  zerolog.Logger

	servers        []string
	requested      time.Duration
	connectTimeout time.Duration
	fenceSlack     time.Duration
	auth           []authCred

	negotiated  atomic.Int64 // ns, from the connect response
	handshakeID atomic.Int64 // session id of the latest connect response
	id          atomic.Int64 // the session we started with; 0 until established
	lastAnswer  atomic.Int64 // CLOCK_BOOTTIME ns: send time of the last answered request

	ready     chan struct{}
	readyOnce sync.Once

	reconnMu    sync.Mutex
	reconnected chan struct{} // closed and replaced when the same session comes back

	done     chan struct{}
	doneOnce sync.Once
	err      atomic.Pointer[error]
	ended    atomic.Bool // expired, replaced or closed: requests fail fast
	closing  atomic.Bool // Close was called: events are ours and not news
}

type authCred struct {
	scheme string
	auth   []byte
}

// Option configures Dial.
type Option func(*Session)

// WithLogger sets the logger; the default discards.
func WithLogger(l zerolog.Logger) Option { return func(s *Session) { s.log = l } }

// WithSessionTimeout sets the requested session timeout; the server may
// negotiate it into [2, 20] x tickTime.
func WithSessionTimeout(d time.Duration) Option {
	return func(s *Session) { s.requested = d }
}

// WithConnectTimeout bounds how long Dial waits for a session, over all
// servers.
func WithConnectTimeout(d time.Duration) Option {
	return func(s *Session) { s.connectTimeout = d }
}

// WithFenceSlack sets the slack of the fencing rule (default T/3).
func WithFenceSlack(d time.Duration) Option { return func(s *Session) { s.fenceSlack = d } }

// WithAuth adds credentials (scheme "digest", auth "user:pass") sent right
// after the session is established.
func WithAuth(scheme, auth string) Option {
	return func(s *Session) { s.auth = append(s.auth, authCred{scheme, []byte(auth)}) }
}

// maxPacket bounds the packets a session receives: a znode's data is at
// most ZooKeeper's default jute.maxbuffer (0xfffff bytes; a larger write
// is refused), plus the reply's header and stat. So the largest fleet
// config (config.MaxFleetSize, no_switchman) and run record are still
// read; a server with a raised jute.maxbuffer holding larger znodes is not
// supported.
const maxPacket = 1<<20 + 4<<10

// Dial connects to ZooKeeper and waits for a session, bounded by the connect
// timeout and ctx.
func Dial(ctx context.Context, servers []string, opts ...Option) (*Session, error) {
	s := &Session{
		log:            zerolog.Nop(),
		servers:        servers,
		requested:      30 * time.Second,
		connectTimeout: 5 * time.Second,
		ready:          make(chan struct{}),
		reconnected:    make(chan struct{}),
		done:           make(chan struct{}),
	}
	for _, o := range opts {
		o(s)
	}
	s.lastAnswer.Store(bootNow())
	conn, _, err := zk.Connect(servers, s.requested,
		zk.WithDialer(s.dial),
		zk.WithHostProvider(&hostProvider{}),
		zk.WithEventCallback(s.onEvent),
		zk.WithLogger(zkLogger{s}),
		zk.WithLogInfo(false),
		// go-zookeeper allocates a 1.5 MiB receive buffer per connection
		// unless told a maximum; with it (and the 1.5 MiB send buffer)
		// a guarded run's heap passed the runtime's first 4 MB goal and
		// paid a garbage collection. Capped at the largest packet
		// ZooKeeper answers by default, the run has none. The send
		// buffer is left as is: WithMaxConnBufferSize allocates a new
		// one after the default, which made the GC come back.
		zk.WithMaxBufferSize(maxPacket),
	)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	s.conn = conn
	timer := time.NewTimer(s.connectTimeout)
	defer timer.Stop()
	select {
	case <-s.ready:
	case <-timer.C:
		s.abandon()
		return nil, fmt.Errorf("%w: no session with %s within %v", ErrUnreachable, strings.Join(servers, ","), s.connectTimeout)
	case <-ctx.Done():
		s.abandon()
		return nil, fmt.Errorf("%w: %w", ErrUnreachable, ctx.Err())
	}
	for _, a := range s.auth {
		if err := conn.AddAuth(a.scheme, a.auth); err != nil {
			s.Close()
			return nil, fmt.Errorf("%w: authentication (%s) failed: %v", ErrUnreachable, a.scheme, err)
		}
	}
	t := s.Timeout()
	if t < s.requested {
		s.log.Debug().Dur("requested_ms", s.requested).Dur("negotiated_ms", t).Msg("ZooKeeper shortened the session timeout")
	}
	if s.Fence().TooShort() {
		s.log.Warn().Dur("session_timeout_ms", t).Dur("fence_slack_ms", s.Fence().SlackOrDefault()).
			Msg("session timeout too short for the fence slack: a partitioned job gets no grace before SIGKILL")
	}
	return s, nil
}

// abandon gives up a connection that never got a session: nothing to close
// on the server, so don't wait for it.
func (s *Session) abandon() {
	s.closing.Store(true)
	s.end(ErrClosed)
	go s.conn.Close()
}

// Conn is the underlying connection. Prefer Do, which fails fast once the
// session ended and keeps the fence's clock.
func (s *Session) Conn() *zk.Conn { return s.conn }

// ID is the session id we started with.
func (s *Session) ID() int64 { return s.id.Load() }

// Timeout is the negotiated session timeout T.
func (s *Session) Timeout() time.Duration {
	if t := s.negotiated.Load(); t > 0 {
		return time.Duration(t)
	}
	return s.requested
}

// ConnectTimeout is the bound on connecting that Dial was given.
func (s *Session) ConnectTimeout() time.Duration { return s.connectTimeout }

// Fence is this session's fencing rule.
func (s *Session) Fence() Fence { return Fence{Timeout: s.Timeout(), Slack: s.fenceSlack} }

// Done is closed once the session gives no right to run: see Session.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err is nil until Done is closed; then why: a *Loss (expiry, replacement,
// fence) or ErrClosed.
func (s *Session) Err() error {
	if p := s.err.Load(); p != nil {
		return *p
	}
	return nil
}

// Connected reports whether requests can be answered now: the session is
// alive and the connection up.
func (s *Session) Connected() bool {
	return !s.ended.Load() && s.conn.State() == zk.StateHasSession
}

// Reconnected returns a channel that is closed the next time the connection
// comes back to the same session, so watchers can re-verify what they rely
// on. Fetch it before the request whose failure makes you wait on it.
func (s *Session) Reconnected() <-chan struct{} {
	s.reconnMu.Lock()
	defer s.reconnMu.Unlock()
	return s.reconnected
}

// touch records that the server answered a request sent at sentAt
// (CLOCK_BOOTTIME ns). Only answers prove the session is alive.
func (s *Session) touch(sentAt int64) {
	for {
		old := s.lastAnswer.Load()
		if sentAt <= old || s.lastAnswer.CompareAndSwap(old, sentAt) {
			return
		}
	}
}

// LastAnswer is the send time of the last answered request (CLOCK_BOOTTIME ns).
func (s *Session) LastAnswer() int64 { return s.lastAnswer.Load() }

// Answered reports whether err came from the server (so the request reached
// it and the session was alive when it was processed).
func Answered(err error) bool {
	switch {
	case err == nil:
		return true
	case errors.Is(err, zk.ErrConnectionClosed), errors.Is(err, zk.ErrNoServer),
		errors.Is(err, zk.ErrClosing), errors.Is(err, zk.ErrSessionExpired),
		errors.Is(err, zk.ErrSessionMoved), errors.Is(err, ErrExpired),
		errors.Is(err, ErrClosed), errors.Is(err, context.Canceled),
		errors.Is(err, context.DeadlineExceeded):
		return false
	}
	var netErr net.Error
	return !errors.As(err, &netErr)
}

// Gone reports an error that means the session is over for good.
func Gone(err error) bool {
	return errors.Is(err, ErrExpired) || errors.Is(err, ErrClosed) ||
		errors.Is(err, zk.ErrSessionExpired) || errors.Is(err, zk.ErrClosing)
}

// Do runs one request and records its send time when the server answered.
// Once the session ended it fails at once with the reason.
func (s *Session) Do(req func() error) error {
	if s.ended.Load() {
		return s.endErr()
	}
	sent := bootNow()
	err := req()
	if Answered(err) {
		s.touch(sent)
	} else if s.ended.Load() {
		return s.endErr()
	}
	return err
}

// DoCtx is Do that returns when ctx ends even while the request hangs (a
// go-zookeeper request takes no context and waits for the connection). An
// abandoned request may still take effect later; whatever it creates is
// ephemeral and goes with the session.
func (s *Session) DoCtx(ctx context.Context, req func() error) error {
	if ctx.Done() == nil {
		return s.Do(req)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	res := make(chan error, 1)
	go func() { res <- s.Do(req) }()
	select {
	case err := <-res:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Session) endErr() error {
	if err := s.Err(); err != nil {
		return err
	}
	return ErrClosed
}

// Close ends the session; its ephemeral nodes go with it.
func (s *Session) Close() {
	s.closing.Store(true)
	s.ended.Store(true)
	s.end(ErrClosed)
	if s.conn.State() != zk.StateHasSession {
		go s.conn.Close() // the link is down: the close would wait for nothing
		return
	}
	// On a live link the close takes a round trip and ends the session's
	// ephemeral nodes at once; on a link that just died go-zookeeper would
	// wait a second for its answer. Waiting closeBound at most keeps a
	// signal's exit prompt; past it the nodes go with the session's expiry.
	closed := make(chan struct{})
	go func() { s.conn.Close(); close(closed) }()
	t := time.NewTimer(closeBound)
	defer t.Stop()
	select {
	case <-closed:
	case <-t.C:
	}
}

// closeBound is how long Close waits for the server to end the session: far
// above a healthy round trip (a lock left behind would hold the next run
// until the session expires), far below the second a signal gets.
const closeBound = 500 * time.Millisecond

// end closes Done with err, the first time.
func (s *Session) end(err error) {
	s.doneOnce.Do(func() {
		s.err.Store(&err)
		close(s.done)
	})
}

// expire ends a session that is gone for good. It runs in go-zookeeper's
// event callback, before the library reconnects: from here on the dialer
// refuses and requests fail fast, so nothing reaches a new session.
func (s *Session) expire(detail string) {
	if s.ended.Swap(true) {
		return
	}
	s.end(&Loss{Reason: ReasonSessionExpired, Detail: detail, Now: true})
	go s.conn.Close()
}

func (s *Session) onEvent(ev zk.Event) {
	if ev.Type != zk.EventSession || s.closing.Load() {
		return
	}
	switch ev.State {
	case zk.StateHasSession:
		id := s.handshakeID.Load()
		first := false
		s.readyOnce.Do(func() {
			first = true
			s.id.Store(id)
			close(s.ready)
		})
		switch {
		case first:
			s.log.Debug().Str("event", "zk").Str("state", "session").Str("server", ev.Server).
				Str("session", fmt.Sprintf("%#x", id)).Dur("timeout_ms", s.Timeout()).Msg("zk")
		case id != s.id.Load():
			// Info: what it means for the run (a stop, a new wait) is
			// the run's to say; a waiter that carries on mails nothing.
			s.log.Info().Str("event", "zk").Str("state", "new_session").
				Str("session", fmt.Sprintf("%#x", id)).Msg("zk")
			s.expire("ZooKeeper opened a new session: the old one expired")
		default:
			s.log.Info().Str("event", "zk").Str("state", "reconnected").Str("server", ev.Server).Msg("zk")
			s.reconnMu.Lock()
			close(s.reconnected)
			s.reconnected = make(chan struct{})
			s.reconnMu.Unlock()
		}
	case zk.StateExpired:
		s.log.Info().Str("event", "zk").Str("state", "expired").Msg("zk")
		if s.id.Load() != 0 {
			s.expire("ZooKeeper session expired")
		}
	case zk.StateDisconnected:
		if s.id.Load() != 0 {
			s.log.Info().Str("event", "zk").Str("state", "disconnected").Str("server", ev.Server).Msg("zk")
		}
	case zk.StateAuthFailed:
		s.log.Error().Str("event", "zk").Str("state", "auth_failed").Msg("zk")
	}
}

// Guard starts the fencing machinery for a running job: a heartbeat that
// keeps s fresh (probe sends one request and reports whether the server
// answered) and a watchdog that ends the session with a fence Loss at
// s + T/3. The watchdog never calls ZooKeeper, so a hung request cannot
// delay it.
func (s *Session) Guard(ctx context.Context, probe func() bool) {
	go s.heartbeat(ctx, probe)
	go func() {
		if loss := watchFence(ctx, s.done, s.Fence, s.LastAnswer, bootNow, sleepBoot); loss != nil {
			s.log.Warn().Str("event", "zk").Str("state", "fence").
				Dur("session_timeout", s.Timeout()).Msg("no answer from ZooKeeper for T/3: the lock may be lost")
			s.end(loss) // once stopping has begun it always finishes
		}
	}()
}

func (s *Session) heartbeat(ctx context.Context, probe func() bool) {
	ticker := time.NewTicker(s.Fence().HeartbeatPeriod())
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.done:
			return
		case <-ticker.C:
		}
		sent := bootNow()
		if probe() {
			s.touch(sent)
		}
	}
}

// watchFence returns the fence Loss once now passes AlarmAt(last()), or nil
// when ctx or done ends first. Its clock is passed in so that tests can
// drive it.
func watchFence(ctx context.Context, done <-chan struct{}, fence func() Fence, last, now func() int64,
	sleep func(ctx context.Context, done <-chan struct{}, d time.Duration) bool) *Loss {
	for {
		f := fence()
		l := last()
		wait := time.Duration(f.AlarmAt(l) - now())
		if wait <= 0 {
			return f.loss(l, now())
		}
		if !sleep(ctx, done, wait) {
			return nil
		}
	}
}

// sleepBoot sleeps d unless ctx or done ends first.
func sleepBoot(ctx context.Context, done <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-done:
		return false
	case <-t.C:
		return true
	}
}

// dial wraps each connection so that the connect response (session id and
// negotiated timeout) can be read, and bounds the time each server gets.
// It refuses once the session ended: go-zookeeper would open a new session,
// and whatever request it then sent would run in a session that is not ours.
func (s *Session) dial(network, address string, timeout time.Duration) (net.Conn, error) {
	if s.ended.Load() {
		return nil, fmt.Errorf("%w: not reconnecting", s.endErr())
	}
	budget := s.perServerBudget()
	if timeout <= 0 || timeout > budget {
		timeout = budget
	}
	c, err := net.DialTimeout(network, address, timeout)
	if err != nil {
		return nil, err
	}
	return &sniffConn{Conn: c, s: s, handshakeBy: time.Now().Add(budget)}, nil
}

// minServerBudget keeps a per-server budget from shrinking below what a
// loopback or LAN handshake needs, however many servers are listed.
const minServerBudget = 200 * time.Millisecond

// perServerBudget is the time one server gets to connect and answer the
// handshake: the connect timeout shared by all listed servers, so that a
// hung (frozen) first server leaves time for the others.
func (s *Session) perServerBudget() time.Duration {
	n := max(len(s.servers), 1)
	return max(s.connectTimeout/time.Duration(n), minServerBudget)
}

// sniffConn reads the first 20 bytes the server sends (length, protocol
// version, timeout, session id), caps the handshake's deadlines at the
// per-server budget (go-zookeeper lets it wait 10 x its read timeout), and
// caps later deadlines at 2T/3.
type sniffConn struct {
	net.Conn
	s           *Session
	handshakeBy time.Time
	head        [20]byte
	got         int
}

func (c *sniffConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if c.got < len(c.head) && n > 0 {
		k := copy(c.head[c.got:], p[:n])
		c.got += k
		if c.got == len(c.head) {
			timeoutMs := int32(binary.BigEndian.Uint32(c.head[8:12]))
			c.s.negotiated.Store(int64(time.Duration(timeoutMs) * time.Millisecond))
			c.s.handshakeID.Store(int64(binary.BigEndian.Uint64(c.head[12:20])))
		}
	}
	return n, err
}

func (c *sniffConn) capDeadline(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	limit := time.Now().Add(c.s.Timeout() * 2 / 3)
	if c.got < len(c.head) {
		limit = c.handshakeBy
	}
	if t.After(limit) {
		return limit
	}
	return t
}

func (c *sniffConn) SetReadDeadline(t time.Time) error {
	if t.IsZero() && c.got < len(c.head) {
		t = c.handshakeBy // go-zookeeper clears it before the rest of the response
	}
	return c.Conn.SetReadDeadline(c.capDeadline(t))
}

func (c *sniffConn) SetWriteDeadline(t time.Time) error {
	return c.Conn.SetWriteDeadline(c.capDeadline(t))
}

// zkLogger sends go-zookeeper's own lines to the debug level, until Close:
// the library keeps talking while it shuts down, after our log is closed.
type zkLogger struct{ s *Session }

func (l zkLogger) Printf(format string, args ...any) {
	if !l.s.closing.Load() {
		l.s.log.Debug().Str("event", "zk").Msgf(format, args...)
	}
}

// Logger is the session's logger, for the packages that work in it.
func (s *Session) Logger() *zerolog.Logger { return &s.log }

// UntilExpiry is how long the server may still keep the session without
// hearing from us: T after the last answered request. Past it, whatever
// the session holds is gone or going; 0 once it has passed.
func (s *Session) UntilExpiry() time.Duration {
	return max(untilBoot(s.LastAnswer()+int64(s.Timeout())), 0)
}
