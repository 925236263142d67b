package zktest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Timeouts for talking to a server; a frozen or starting JVM may accept a
// connection and never answer, so nothing here may block indefinitely.
const (
	fourLetterTimeout = 2 * time.Second
	probeTimeout      = 300 * time.Millisecond
	probeInterval     = 20 * time.Millisecond
	stopGrace         = 10 * time.Second
	logTailLines      = 40
)

// ErrNotServing is returned by Mode while the server is up but not serving
// clients (starting, or in leader election), which ZooKeeper reports as
// "This ZooKeeper instance is not currently serving requests".
var ErrNotServing = errors.New("zktest: server is not currently serving requests")

// Server is one ZooKeeper JVM: standalone (from Start/StartServer) or an
// ensemble member. Its directory, ports and myid are fixed for its lifetime,
// so Restart brings back the same server with the same data. Methods are
// safe for concurrent use.
type Server struct {
	o       options
	id      int // myid; 0 for standalone
	dir     string
	ownsDir bool
	ens     *Ensemble

	clientPort   int
	peerPort     int
	electionPort int

	lifeMu sync.Mutex // serialises start/stop/freeze/close

	mu     sync.Mutex // guards the fields below
	proc   *process
	frozen bool
	closed bool
	starts int
}

// process is one run of the JVM.
type process struct {
	cmd     *exec.Cmd
	done    chan struct{} // closed when the JVM has exited and been reaped
	err     error         // cmd.Wait result; valid after done
	started time.Time
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Start starts a standalone ZooKeeper server and waits until it serves
// clients. The caller owns the server and must Close it. ctx bounds the
// start-up only (default bound: WithStartTimeout); the server keeps running
// after ctx is done.
func Start(ctx context.Context, opts ...Option) (*Server, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	o := buildOptions(opts)
	ctx, cancel := startContext(ctx, &o)
	defer cancel()
	var lastErr error
	for attempt := 1; attempt <= 3; attempt++ {
		s, err := newStandalone(o)
		if err != nil {
			return nil, err
		}
		began := time.Now()
		s.lifeMu.Lock()
		err = s.spawn()
		if err == nil {
			err = s.waitReady(ctx)
		}
		s.lifeMu.Unlock()
		if err == nil {
			o.log("zktest: standalone ZooKeeper %s ready in %v (dir %s)", s.Addr(), time.Since(began).Round(time.Millisecond), s.dir)
			return s, nil
		}
		conflict := s.bindConflict()
		s.Close()
		lastErr = err
		if !conflict || ctx.Err() != nil {
			break
		}
		o.log("zktest: port conflict starting ZooKeeper, retrying with new ports")
	}
	return nil, lastErr
}

func newStandalone(o options) (*Server, error) {
	ports, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	dir, err := makeTempDir("zktest-")
	if err != nil {
		return nil, err
	}
	s := &Server{o: o, dir: dir, ownsDir: true, clientPort: ports[0]}
	if err := s.writeConfig(nil); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// Addr returns the client address "127.0.0.1:port"; it stays the same
// across restarts.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.clientPort)) }

// ID returns the server's myid in its ensemble, or 0 for a standalone server.
func (s *Server) ID() int { return s.id }

// Dir returns the server's directory (zoo.cfg, data/, zookeeper.log).
func (s *Server) Dir() string { return s.dir }

// LogPath returns the file that receives the JVM's stdout and stderr; it
// accumulates all runs of this server, separated by "==== zktest:" lines.
func (s *Server) LogPath() string { return filepath.Join(s.dir, "zookeeper.log") }

func (s *Server) dataDir() string { return filepath.Join(s.dir, "data") }
func (s *Server) cfgPath() string { return filepath.Join(s.dir, "zoo.cfg") }

// String identifies the server in logs and test failures.
func (s *Server) String() string {
	if s.id == 0 {
		return "zk[" + s.Addr() + "]"
	}
	return fmt.Sprintf("zk%d[%s]", s.id, s.Addr())
}

// PID returns the process id of the running JVM, or 0 if it is not running.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil || s.proc.exited() {
		return 0
	}
	return s.proc.cmd.Process.Pid
}

// Running reports whether the JVM process exists (it may be frozen).
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc != nil && !s.proc.exited()
}

// Frozen reports whether the JVM is currently stopped by Freeze.
func (s *Server) Frozen() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.frozen && s.proc != nil && !s.proc.exited()
}

// Exited returns a channel that is closed when the current JVM exits, so
// callers (e.g. the zkserver demo tool) notice a server dying on its own.
// It is already closed if the server is not running.
func (s *Server) Exited() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return s.proc.done
}

func (s *Server) currentProc() *process {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc
}

// writeConfig writes zoo.cfg (and myid for ensemble members). peers is the
// full ensemble membership, nil for standalone.
func (s *Server) writeConfig(peers []*Server) error {
	if err := os.MkdirAll(s.dataDir(), 0o755); err != nil {
		return err
	}
	type kv = [2]string
	ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
	tick := s.o.tickTime
	if tick < time.Millisecond {
		return fmt.Errorf("zktest: tickTime %v is below 1ms", tick)
	}
	cfg := []kv{
		{"tickTime", ms(tick)},
		{"initLimit", strconv.Itoa(s.o.initLimit)},
		{"syncLimit", strconv.Itoa(s.o.syncLimit)},
		{"dataDir", s.dataDir()},
		{"clientPort", strconv.Itoa(s.clientPort)},
		{"clientPortAddress", "127.0.0.1"},
		{"admin.enableServer", "false"},
		{"4lw.commands.whitelist", "*"},
		// Tests open many connections from 127.0.0.1; the default cap is 60.
		{"maxClientCnxns", "0"},
		// Durability across power loss is not under test; SIGKILL keeps
		// written data in the page cache, so Kill+Restart still keeps data.
		{"forceSync", "no"},
		// KB; the default preallocates 64MB per transaction log.
		{"preAllocSize", "4096"},
	}
	if s.o.minSession > 0 {
		cfg = append(cfg, kv{"minSessionTimeout", ms(s.o.minSession)})
	}
	if s.o.maxSession > 0 {
		cfg = append(cfg, kv{"maxSessionTimeout", ms(s.o.maxSession)})
	}
	if peers != nil {
		// Needed for a 1-member ensemble to run in quorum mode (with a
		// leader) rather than fall back to standalone.
		cfg = append(cfg, kv{"standaloneEnabled", "false"})
		for _, p := range peers {
			cfg = append(cfg, kv{"server." + strconv.Itoa(p.id), fmt.Sprintf("127.0.0.1:%d:%d", p.peerPort, p.electionPort)})
		}
	}
	for _, over := range s.o.config {
		replaced := false
		for i := range cfg {
			if cfg[i][0] == over[0] {
				cfg[i][1] = over[1]
				replaced = true
			}
		}
		if !replaced {
			cfg = append(cfg, over)
		}
	}
	var b strings.Builder
	b.WriteString("# generated by github.com/cronguard/cronguard/internal/zktest\n")
	for _, e := range cfg {
		fmt.Fprintf(&b, "%s=%s\n", e[0], e[1])
	}
	if err := os.WriteFile(s.cfgPath(), []byte(b.String()), 0o644); err != nil {
		return err
	}
	if peers != nil {
		return os.WriteFile(filepath.Join(s.dataDir(), "myid"), []byte(strconv.Itoa(s.id)+"\n"), 0o644)
	}
	return nil
}

// spawn starts the JVM without waiting for readiness. Caller holds lifeMu.
func (s *Server) spawn() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("zktest: %v is closed", s)
	}
	if s.proc != nil && !s.proc.exited() {
		s.mu.Unlock()
		return fmt.Errorf("zktest: %v is already running", s)
	}
	s.starts++
	n := s.starts
	s.mu.Unlock()

	java, err := javaPath()
	if err != nil {
		return err
	}
	cp, _ := classpath()
	args := make([]string, 0, len(DefaultJVMArgs)+len(s.o.jvmArgs)+4)
	args = append(args, DefaultJVMArgs...)
	args = append(args, s.o.jvmArgs...)
	args = append(args, "-cp", cp, quorumPeerMain, s.cfgPath())

	lf, err := os.OpenFile(s.LogPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer lf.Close() // the child has its own descriptor
	fmt.Fprintf(lf, "==== zktest: start #%d of %v at %s: %s %s\n", n, s, time.Now().Format(time.RFC3339Nano), java, strings.Join(args, " "))

	cmd := exec.Command(java, args...)
	cmd.Dir = s.dir
	cmd.Stdout = lf
	cmd.Stderr = lf
	if err := startProcess(cmd); err != nil {
		return fmt.Errorf("zktest: starting %v: %w", s, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{}), started: time.Now()}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	s.mu.Lock()
	s.proc = p
	s.frozen = false
	s.mu.Unlock()
	return nil
}

// wantMode reports whether mode means "ready" for this kind of server.
func (s *Server) wantMode(mode string) bool {
	if s.ens == nil {
		return mode == "standalone"
	}
	return mode == "leader" || mode == "follower" || mode == "observer"
}

// waitReady polls srvr until the server reports a Mode, the JVM exits, or
// ctx is done. Probes are started every probeInterval without waiting for
// earlier ones: ZooKeeper 3.8 sometimes never answers (nor closes) a
// four-letter word that arrives just before it starts serving (an NPE in
// NIOServerCnxn.close), and waiting for that probe to time out would add
// its whole timeout to the start-up time.
func (s *Server) waitReady(ctx context.Context) error {
	p := s.currentProc()
	if p == nil {
		return fmt.Errorf("zktest: %v was never started", s)
	}
	type result struct {
		mode string
		err  error
	}
	const maxInflight = 8
	pctx, cancel := context.WithCancel(ctx)
	defer cancel() // abandons probes still in flight
	results := make(chan result, maxInflight)
	inflight := 0
	launch := func() {
		inflight++
		go func() {
			c, cancel := context.WithTimeout(pctx, probeTimeout)
			defer cancel()
			m, err := s.modeCtx(c)
			results <- result{m, err}
		}()
	}
	tick := time.NewTicker(probeInterval)
	defer tick.Stop()
	launch()
	var last error
	for {
		select {
		case r := <-results:
			inflight--
			if r.err == nil && s.wantMode(r.mode) {
				return nil
			}
			last = r.err
			if r.err == nil {
				last = fmt.Errorf("mode %q", r.mode)
			}
		case <-tick.C:
			if inflight < maxInflight {
				launch()
			}
		case <-p.done:
			return s.exitError(p)
		case <-ctx.Done():
			return fmt.Errorf("zktest: %v not ready after %v: %w (last probe: %v)\n%s",
				s, time.Since(p.started).Round(time.Millisecond), ctx.Err(), last, s.logTailBlock())
		}
	}
}

// WaitReady waits until the server answers srvr with a Mode (leader,
// follower or standalone), e.g. after a Thaw or after peers came back.
func (s *Server) WaitReady(ctx context.Context) error { return s.waitReady(ctx) }

func (s *Server) exitError(p *process) error {
	return fmt.Errorf("zktest: %v exited before becoming ready (%v)\n%s", s, p.err, s.logTailBlock())
}

// bindConflict reports whether the last run failed because a port was
// taken, which Start/StartEnsemble handle by retrying with fresh ports.
func (s *Server) bindConflict() bool {
	b, err := os.ReadFile(s.LogPath())
	if err != nil {
		return false
	}
	return bytes.Contains(b, []byte("Address already in use")) || bytes.Contains(b, []byte("BindException"))
}

// LogTail returns the last n lines of the server's log, for failure
// messages.
func (s *Server) LogTail(n int) string {
	f, err := os.Open(s.LogPath())
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	const maxRead = 256 << 10
	if st, err := f.Stat(); err == nil && st.Size() > maxRead {
		f.Seek(st.Size()-maxRead, io.SeekStart)
	}
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > 4*n {
			lines = append(lines[:0], lines[len(lines)-n:]...)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (s *Server) logTailBlock() string {
	return fmt.Sprintf("---- last %d lines of %s ----\n%s\n---- end of log ----", logTailLines, s.LogPath(), s.LogTail(logTailLines))
}

// FourLetter sends a four-letter-word command (srvr, mntr, cons, stat, ...)
// and returns the reply, waiting at most 2s since a frozen server never
// answers.
func (s *Server) FourLetter(cmd string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), fourLetterTimeout)
	defer cancel()
	return s.FourLetterContext(ctx, cmd)
}

// FourLetterContext is FourLetter bounded by ctx instead of the default 2s.
func (s *Server) FourLetterContext(ctx context.Context, cmd string) (string, error) {
	return FourLetter(ctx, s.Addr(), cmd)
}

// FourLetter sends a four-letter-word command to any ZooKeeper address. The
// reply is read until the server closes the connection or ctx is done (the
// latter is an error: ZooKeeper 3.8 sometimes never closes the socket of a
// command received during start-up).
func FourLetter(ctx context.Context, addr, cmd string) (string, error) {
	if len(cmd) != 4 {
		return "", fmt.Errorf("zktest: four-letter word %q must have 4 letters", cmd)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, fourLetterTimeout)
		defer cancel()
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	dl, _ := ctx.Deadline()
	conn.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	if _, err := io.WriteString(conn, cmd); err != nil {
		return "", fmt.Errorf("zktest: %s to %s: %w", cmd, addr, err)
	}
	out, err := io.ReadAll(conn)
	if err != nil {
		return string(out), fmt.Errorf("zktest: %s to %s: %w", cmd, addr, err)
	}
	return string(out), nil
}

// Mode returns the server's role as reported by srvr: "leader",
// "follower", "observer" or "standalone". It returns ErrNotServing during
// start-up and leader election.
func (s *Server) Mode() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), fourLetterTimeout)
	defer cancel()
	return s.modeCtx(ctx)
}

func (s *Server) modeCtx(ctx context.Context) (string, error) {
	out, err := s.FourLetterContext(ctx, "srvr")
	if err != nil {
		return "", err
	}
	return parseMode(out)
}

func parseMode(srvr string) (string, error) {
	for _, line := range strings.Split(srvr, "\n") {
		if m, ok := strings.CutPrefix(strings.TrimSpace(line), "Mode: "); ok {
			return strings.TrimSpace(m), nil
		}
	}
	if strings.Contains(srvr, "not currently serving") {
		return "", ErrNotServing
	}
	return "", fmt.Errorf("zktest: no Mode in srvr reply %q", srvr)
}

// Stop terminates the JVM with SIGTERM (a graceful ZooKeeper shutdown) and
// waits for it to exit; a frozen server is thawed so it can handle the
// signal. If it does not exit within 10s it is SIGKILLed and an error is
// returned. Stopping a server that is not running is a no-op.
func (s *Server) Stop() error {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	return s.stop(syscall.SIGTERM)
}

// Kill terminates the JVM with SIGKILL (a crash: no goodbye to clients or
// peers) and waits for it to exit. Killing a server that is not running is
// a no-op.
func (s *Server) Kill() error {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	return s.stop(syscall.SIGKILL)
}

// stop signals the JVM and reaps it. Caller holds lifeMu.
func (s *Server) stop(sig syscall.Signal) error {
	s.mu.Lock()
	p, frozen := s.proc, s.frozen
	s.mu.Unlock()
	if p == nil || p.exited() {
		return nil
	}
	began := time.Now()
	var err error
	p.cmd.Process.Signal(sig)
	if frozen && sig != syscall.SIGKILL {
		p.cmd.Process.Signal(syscall.SIGCONT)
	}
	select {
	case <-p.done:
	case <-time.After(stopGrace):
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
		err = fmt.Errorf("zktest: %v did not exit within %v of %v; killed", s, stopGrace, sig)
	}
	s.mu.Lock()
	s.frozen = false
	s.mu.Unlock()
	s.o.log("zktest: %v stopped with %v in %v", s, sig, time.Since(began).Round(time.Millisecond))
	return err
}

// Restart starts the server again with the same directory, ports and myid
// (so its data survives) and waits until it serves clients; for an ensemble
// member that means it has joined a quorum as leader or follower. A running
// server is stopped with SIGTERM first.
func (s *Server) Restart(ctx context.Context) error {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if err := s.stop(syscall.SIGTERM); err != nil {
		return err
	}
	ctx, cancel := startContext(ctx, &s.o)
	defer cancel()
	began := time.Now()
	if err := s.spawn(); err != nil {
		return err
	}
	if err := s.waitReady(ctx); err != nil {
		return err
	}
	s.o.log("zktest: %v restarted, ready in %v", s, time.Since(began).Round(time.Millisecond))
	return nil
}

// Freeze stops the JVM with SIGSTOP: the process keeps its sockets (so the
// kernel still accepts connections and ACKs data) but nothing is processed,
// like a long GC pause or a hung VM. Use Thaw to resume.
//
// Because the kernel keeps completing TCP handshakes for the frozen JVM,
// clients connecting to it do not get "connection refused": they hang until
// their own timeouts fire (go-zookeeper v1.0.4 waits 10x its read timeout
// for a connect response, so a client that picks the frozen member of an
// ensemble while reconnecting is stuck there for ~6.7 session timeouts).
func (s *Server) Freeze() error {
	return s.freezeThaw(true)
}

// Thaw resumes a frozen JVM with SIGCONT. It does not wait for readiness:
// right after a thaw the server may expire sessions or step down as leader.
func (s *Server) Thaw() error {
	return s.freezeThaw(false)
}

func (s *Server) freezeThaw(freeze bool) error {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	p := s.currentProc()
	if p == nil || p.exited() {
		return fmt.Errorf("zktest: %v is not running", s)
	}
	sig, what := syscall.SIGSTOP, "frozen"
	if !freeze {
		sig, what = syscall.SIGCONT, "thawed"
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("zktest: %v: %w", s, err)
	}
	if err := waitStopped(p.cmd.Process.Pid, freeze, 5*time.Second); err != nil {
		return err
	}
	s.mu.Lock()
	s.frozen = freeze
	s.mu.Unlock()
	s.o.log("zktest: %v %s", s, what)
	return nil
}

// Close kills the JVM and removes the server's directory. It is idempotent
// and safe to call on a server that is stopped or frozen.
func (s *Server) Close() error {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	err := s.stop(syscall.SIGKILL)
	if s.ownsDir {
		if rerr := os.RemoveAll(s.dir); err == nil {
			err = rerr
		}
	}
	return err
}
