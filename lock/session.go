package lock

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
	ErrUnreachable    = errors.New("lock: ZooKeeper unreachable")
	ErrBusy           = errors.New("lock: busy")
	ErrInvalidName    = errors.New("lock: invalid lock name")
	ErrSessionExpired = errors.New("lock: session expired")
	ErrLost           = errors.New("lock: lost")
)

// Reason says why the right to run was lost; the values are the contract's
// `stop` reasons.
type Reason string

// Stop reasons raised by this package.
const (
	ReasonFence          Reason = "fence"
	ReasonSessionExpired Reason = "session_expired"
	ReasonLockLost       Reason = "lock_lost"
)

// Loss tells the supervisor that the job must stop.
type Loss struct {
	Reason Reason
	Detail string
	// Now asks for SIGKILL at once: someone else may already hold the lock.
	Now bool
	// KillBy is the latest moment for SIGKILL; zero means the caller's own
	// grace applies.
	KillBy time.Time
}

// Session is one ZooKeeper session whose health cronguard can reason about:
// it knows the negotiated timeout T and the send time s of the last request
// the server answered, which the fencing rule needs and go-zookeeper hides.
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

	losses   chan Loss
	hardLost atomic.Bool
	hardCh   chan struct{}
	hardOnce sync.Once
	fenced   atomic.Bool
	closed   atomic.Bool // after Close, events are ours and not news
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

// WithConnectTimeout bounds how long Dial waits for a session.
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
		losses:         make(chan Loss, 8),
		hardCh:         make(chan struct{}),
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
		go conn.Close() // nothing to close on the server; don't wait for it
		return nil, fmt.Errorf("%w: no session with %s within %v", ErrUnreachable, strings.Join(servers, ","), s.connectTimeout)
	case <-ctx.Done():
		go conn.Close()
		return nil, fmt.Errorf("%w: %v", ErrUnreachable, ctx.Err())
	}
	for _, a := range s.auth {
		if err := conn.AddAuth(a.scheme, a.auth); err != nil {
			conn.Close()
			return nil, fmt.Errorf("%w: authentication (%s) failed: %v", ErrUnreachable, a.scheme, err)
		}
	}
	t := s.Timeout()
	if t < s.requested {
		s.log.Debug().Dur("requested", s.requested).Dur("negotiated", t).Msg("ZooKeeper shortened the session timeout")
	}
	if s.slack() >= t*2/3 {
		s.log.Warn().Dur("session_timeout", t).Dur("fence_slack", s.slack()).
			Msg("session timeout too short for the fence slack: a partitioned job gets no grace before SIGKILL")
	}
	return s, nil
}

// Conn is the underlying connection, for requests.
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

func (s *Session) slack() time.Duration {
	if s.fenceSlack > 0 {
		return s.fenceSlack
	}
	return s.Timeout() / 3
}

// Reconnected returns a channel that is closed the next time the connection
// comes back to the same session, so watchers can re-verify what they rely
// on. Fetch it before the request whose failure makes you wait on it.
func (s *Session) Reconnected() <-chan struct{} {
	s.reconnMu.Lock()
	defer s.reconnMu.Unlock()
	return s.reconnected
}

// Losses delivers reasons to stop the job. It never blocks the sender; at
// most a handful of losses are ever sent.
func (s *Session) Losses() <-chan Loss { return s.losses }

// Lost is closed once the session is gone for good (expired, replaced).
func (s *Session) Lost() <-chan struct{} { return s.hardCh }

// Touch records that the server answered a request sent at sentAt
// (CLOCK_BOOTTIME ns). Only answers prove the session is alive.
func (s *Session) Touch(sentAt int64) {
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
		errors.Is(err, zk.ErrSessionMoved):
		return false
	}
	var netErr net.Error
	return !errors.As(err, &netErr)
}

// Do runs one request and records its send time when the server answered.
func (s *Session) Do(req func() error) error {
	sent := bootNow()
	err := req()
	if Answered(err) {
		s.Touch(sent)
	}
	return err
}

// Close ends the session; its ephemeral nodes go with it.
func (s *Session) Close() {
	s.closed.Store(true)
	if s.conn.State() == zk.StateHasSession {
		s.conn.Close()
		return
	}
	go s.conn.Close()
}

func (s *Session) emit(l Loss) {
	if l.Now {
		s.hardOnce.Do(func() { s.hardLost.Store(true); close(s.hardCh) })
	}
	select {
	case s.losses <- l:
	default:
		s.log.Error().Str("reason", string(l.Reason)).Msg("loss channel full; dropping a loss event")
	}
}

// LoseNow reports a definite loss (the lock node is gone or not ours).
func (s *Session) LoseNow(reason Reason, detail string) {
	s.emit(Loss{Reason: reason, Detail: detail, Now: true})
}

func (s *Session) onEvent(ev zk.Event) {
	if ev.Type != zk.EventSession || s.closed.Load() {
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
				Str("session", fmt.Sprintf("%#x", id)).Dur("timeout", s.Timeout()).Msg("zk")
		case id != s.id.Load():
			s.log.Warn().Str("event", "zk").Str("state", "new_session").
				Str("session", fmt.Sprintf("%#x", id)).Msg("zk")
			s.emit(Loss{Reason: ReasonSessionExpired, Detail: "ZooKeeper opened a new session: the old one expired", Now: true})
		default:
			s.log.Info().Str("event", "zk").Str("state", "reconnected").Str("server", ev.Server).Msg("zk")
			s.reconnMu.Lock()
			close(s.reconnected)
			s.reconnected = make(chan struct{})
			s.reconnMu.Unlock()
		}
	case zk.StateExpired:
		s.log.Warn().Str("event", "zk").Str("state", "expired").Msg("zk")
		if s.id.Load() != 0 {
			s.emit(Loss{Reason: ReasonSessionExpired, Detail: "ZooKeeper session expired", Now: true})
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
// answered) and a watchdog that raises a fence Loss at s + T/3. The watchdog
// never calls ZooKeeper, so a hung request cannot delay it.
func (s *Session) Guard(ctx context.Context, probe func() bool) {
	go s.heartbeat(ctx, probe)
	go s.watchdog(ctx)
}

// heartbeatDivisor gives the heartbeat period T/10: s is then at most about
// T/10 old on a healthy link, far from the T/3 alarm, at ~10 small requests
// per session timeout.
const heartbeatDivisor = 10

func (s *Session) heartbeat(ctx context.Context, probe func() bool) {
	period := s.Timeout() / heartbeatDivisor
	ticker := time.NewTicker(period)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.hardCh:
			return
		case <-ticker.C:
		}
		sent := bootNow()
		if probe() {
			s.Touch(sent)
		}
	}
}

func (s *Session) watchdog(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		t := s.Timeout()
		last := s.LastAnswer()
		alarmAt := last + int64(t/3)
		wait := untilBoot(alarmAt)
		if wait <= 0 {
			killBy := last + int64(t-s.slack())
			s.fenced.Store(true)
			s.log.Warn().Str("event", "zk").Str("state", "fence").
				Dur("silence", time.Duration(bootNow()-last)).Dur("session_timeout", t).
				Msg("no answer from ZooKeeper for T/3: the lock may be lost")
			s.emit(Loss{Reason: ReasonFence, Detail: fmt.Sprintf("no answer from ZooKeeper for %v (T=%v)", time.Duration(bootNow()-last).Round(time.Millisecond), t), KillBy: bootToTime(killBy)})
			return // once stopping has begun it always finishes
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-s.hardCh:
			return
		case <-timer.C:
		}
	}
}

// Fenced reports whether the fence alarm has fired.
func (s *Session) Fenced() bool { return s.fenced.Load() }

// dial wraps each connection so that the connect response (session id and
// negotiated timeout) can be read, and caps deadlines: go-zookeeper lets the
// handshake wait 10 x its read timeout, which can outlast the session itself.
func (s *Session) dial(network, address string, timeout time.Duration) (net.Conn, error) {
	if timeout <= 0 || timeout > s.connectTimeout {
		timeout = s.connectTimeout
	}
	c, err := net.DialTimeout(network, address, timeout)
	if err != nil {
		return nil, err
	}
	return &sniffConn{Conn: c, s: s}, nil
}

// sniffConn reads the first 20 bytes the server sends (length, protocol
// version, timeout, session id) and caps read and write deadlines at 2T/3.
type sniffConn struct {
	net.Conn
	s    *Session
	head [20]byte
	got  int
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
	if t.After(limit) {
		return limit
	}
	return t
}

func (c *sniffConn) SetReadDeadline(t time.Time) error {
	return c.Conn.SetReadDeadline(c.capDeadline(t))
}

func (c *sniffConn) SetWriteDeadline(t time.Time) error {
	return c.Conn.SetWriteDeadline(c.capDeadline(t))
}

// zkLogger sends go-zookeeper's own lines to the debug level, until Close:
// the library keeps talking while it shuts down, after our log is closed.
type zkLogger struct{ s *Session }

func (l zkLogger) Printf(format string, args ...any) {
	if !l.s.closed.Load() {
		l.s.log.Debug().Str("event", "zk").Msgf(format, args...)
	}
}
