package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/cronguard/cronguard/config"
	"github.com/cronguard/cronguard/lock"
	"github.com/cronguard/cronguard/supervise"
)

// Stop reasons of the contract that the run raises itself (the lock package
// raises fence, session_expired and lock_lost).
const (
	reasonIneligible = "ineligible"
	reasonTimeout    = "timeout"
	reasonSignal     = "signal"
)

type runOptions struct {
	g *globalOptions

	group     string
	lockName  string
	noLock    bool
	wait      time.Duration
	timeout   time.Duration
	killGrace time.Duration
	splay     time.Duration
	skipCode  int
	leases    []string
	command   []string

	killGraceSet bool
}

func newRunCmd(g *globalOptions) *cobra.Command {
	o := &runOptions{g: g}
	cmd := &cobra.Command{
		Use:   "run [flags] -- CMD [ARGS...]",
		Short: "Run CMD if this host is eligible and the lock is free; stop it when that changes",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.command = args
			o.killGraceSet = cmd.Flags().Changed("kill-grace")
			return o.run(cmd.Context())
		},
	}
	f := cmd.Flags()
	// Stop at CMD: its own flags belong to it, even without "--".
	f.SetInterspersed(false)
	f.StringVarP(&o.group, "group", "g", "", "run only on hosts of this group (fleet config in ZooKeeper)")
	f.StringVar(&o.lockName, "lock", "", "lock name (default: basename of CMD)")
	f.StringVar(&o.lockName, "lockname", "", "alias of --lock (switchman)")
	f.BoolVar(&o.noLock, "no-lock", false, "run without the fleet-wide lock")
	f.BoolVar(&o.noLock, "nolock", false, "alias of --no-lock (switchman)")
	_ = f.MarkHidden("nolock")
	f.Var(durationValue{&o.wait}, "wait", "wait up to D for a busy lock (0 = skip at once)")
	f.Var(durationValue{&o.timeout}, "timeout", "stop CMD after D (exit 124)")
	f.Var(durationValue{&o.killGrace}, "kill-grace", "SIGTERM -> SIGKILL grace (default: termination_timeout, 10s)")
	f.Var(durationValue{&o.splay}, "splay", "delay hash(lock) mod D before contacting ZooKeeper, the same on every host")
	f.IntVar(&o.skipCode, "skip-code", 0, "exit code when the run is skipped")
	f.StringArrayVar(&o.leases, "lease", nil, "RES=COUNT:TOTAL lease of a resource listed in the fleet config (repeatable; macros CPU, MEMMB, FQDN)")
	return cmd
}

// runEnv is everything one run needs once the options are resolved.
type runEnv struct {
	o        *runOptions
	st       *settings
	log      zerolog.Logger
	lockName string
	runID    string
	grace    time.Duration
	leases   []leaseSpec
	// leaseOrdered is leases in the fleet config's resource order, checked
	// against it when the config is first read.
	leaseOrdered []leaseSpec
	// waitStart is when the run began waiting for its lock: --wait bounds
	// the lock and the leases together.
	waitStart time.Time
}

func (o *runOptions) run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	st, err := o.g.resolve()
	if err != nil {
		return err
	}
	l := st.local
	log, sinkOnly, closeLog, err := newLogger(l.LogLevel, l.LogFormat, l.LogFile, o.g.stderr)
	if err != nil {
		return err
	}
	defer closeLog()
	e := &runEnv{o: o, st: st, lockName: o.lockName, runID: newRunID(), grace: l.TerminationTimeout}
	if o.killGraceSet {
		e.grace = o.killGrace
	}
	if e.lockName == "" {
		e.lockName = filepath.Base(o.command[0])
	}
	fields := func(c zerolog.Context) zerolog.Logger {
		return c.Str("host", st.hostname).Str("group", o.group).Str("lock", e.lockName).
			Str("run_id", e.runID).Int("pid", os.Getpid()).Logger()
	}
	e.log = fields(log.With())
	st.logWarnings(e.log)
	err = e.execute(ctx)
	var ee *exitError
	if err != nil && (!errors.As(err, &ee) || ee.err != nil) {
		// Main prints the error on stderr; the log must say why too.
		sl := fields(sinkOnly.With())
		sl.Error().Str("event", "error").Err(err).Msg("error")
	}
	return err
}

func (e *runEnv) execute(ctx context.Context) error {
	o := e.o
	if err := e.parseLeases(); err != nil {
		return err
	}
	if o.skipCode < 0 || o.skipCode > 255 {
		return fmt.Errorf("--skip-code %d: want 0..255", o.skipCode)
	}
	if !o.noLock {
		if err := lock.ValidateName(e.lockName); err != nil {
			return err
		}
	}
	path, code, err := supervise.Resolve(o.command[0])
	if err != nil {
		return &exitError{code: code, err: err}
	}
	if o.splay > 0 {
		time.Sleep(splayDelay(e.lockName, o.splay))
	}
	return e.guardedRun(ctx, path)
}

func (e *runEnv) guardedRun(ctx context.Context, path string) error {
	o, st, l := e.o, e.st, e.st.local
	// Catch stop signals from the start: Go's default action would kill
	// cronguard between taking the lock and starting the job, leaving the
	// lock held until the session expires.
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(signals)
	opts := []lock.Option{
		lock.WithLogger(e.log), lock.WithSessionTimeout(l.SessionTimeout),
		lock.WithConnectTimeout(l.ConnectTimeout), lock.WithFenceSlack(l.FenceSlack),
	}
	if l.Auth != "" {
		opts = append(opts, lock.WithAuth("digest", l.Auth))
	}
	sess, err := lock.Dial(ctx, l.Servers, opts...)
	if err != nil {
		return err
	}
	// Closing the session is what releases the lock (its node is
	// ephemeral); it runs only after the job is confirmed dead below.
	defer sess.Close()

	fleetWatch, err := e.checkEligible(sess)
	if err != nil {
		return err
	}

	// Start the job's shim now, waiting for the go: its start-up overlaps
	// taking the lock. Until Go, an abort (lock busy, any error) ends it.
	if err := supervise.SetSubreaper(); err != nil {
		e.log.Warn().Err(err).Msg("cannot become a child subreaper: descendants that call setsid may escape a stop")
	}
	pending, err := supervise.Prepare(supervise.Spec{Path: path, Args: o.command, LeftoverGrace: e.grace,
		Env: append(os.Environ(), "CRONGUARD_LOCK="+e.lockName, "CRONGUARD_GROUP="+o.group, "CRONGUARD_RUN_ID="+e.runID)},
		supervise.WithLogger(e.log))
	if err != nil {
		return fmt.Errorf("starting %s: %w", o.command[0], err)
	}
	jobStarted := false
	defer func() {
		if !jobStarted {
			pending.Abort()
		}
	}()

	var lk *lock.Lock
	if !o.noLock {
		if lk, err = e.acquireLock(ctx, sess); err != nil {
			return err
		}
	}
	releaseLeases, err := e.acquireLeases(ctx, sess)
	if err != nil {
		return err
	}
	// Leases, like the lock, go only once the job is confirmed dead.
	defer releaseLeases()

	gctx, cancel := context.WithCancel(ctx)
	defer cancel()
	probe := func() bool {
		_, _, err := sess.Conn().Exists(st.root)
		return err == nil
	}
	if lk != nil {
		probe = lk.Probe
		lk.Watch(gctx)
	}
	sess.Guard(gctx, probe)
	ineligible := make(chan string, 1)
	if o.group != "" {
		go e.watchFleet(gctx, sess, fleetWatch, ineligible)
	}

	select {
	case loss := <-sess.Losses():
		return fmt.Errorf("lost the right to run before starting: %s: %s", loss.Reason, loss.Detail)
	case sig := <-signals:
		s := sig.(syscall.Signal)
		e.log.Info().Str("event", "skip").Str("reason", reasonSignal).Str("signal", s.String()).Msg("skip")
		return exitCode(128 + int(s))
	default:
	}

	fence := ""
	var lateEnv []string // known only now
	if lk != nil {
		fence = strconv.FormatInt(lk.Token(), 10)
		lateEnv = append(lateEnv, "CRONGUARD_FENCE="+fence)
	}
	child, err := pending.Go(lateEnv)
	if err != nil {
		return fmt.Errorf("starting %s: %w", o.command[0], err)
	}
	jobStarted = true
	e.log.Info().Str("event", "start").Int("child_pid", child.Pid()).Str("fence", fence).
		Strs("command", o.command).Msg("start")
	// Read the run record while the job runs: only the write is left for
	// the end, one round trip fewer between the job's end and cron's.
	record := prefetchRunRecord(sess, st.root, e.lockName)

	stopReason := e.supervise(child, sess, ineligible, signals)
	res := child.Result()
	code := res.ExitCode
	if stopReason == reasonTimeout {
		code = ExitTimeout
	}
	ev := e.log.Info()
	if res.Signal != 0 && stopReason == "" {
		// Killed by someone else (the OOM killer, an operator): cron would
		// mail nothing, so say it on stderr.
		ev = e.log.Warn()
	}
	ev.Str("event", "finish").Int("exit", code).Dur("duration", res.Duration).
		Int64("max_rss_kb", res.MaxRSSKB).Dur("user_cpu", res.UserCPU).Dur("sys_cpu", res.SysCPU).
		Str("stop_reason", stopReason).Msg("finish")
	entry := runEntry{Host: st.hostname, RunID: e.runID, Start: child.Started().UTC(),
		End: time.Now().UTC(), Exit: code, DurationMS: res.Duration.Milliseconds(), StopReason: stopReason}
	e.recordRun(sess, entry, record)
	e.writeMetrics(func(m *runMetrics) {
		m.runs++
		m.lastStart, m.lastEnd = unixSeconds(entry.Start), unixSeconds(entry.End)
		m.lastDuration, m.lastExit = res.Duration.Seconds(), float64(code)
		if code == 0 {
			m.lastSuccess = m.lastEnd
		}
		if stopReason != "" {
			m.stops[stopReason]++
		}
	})
	return exitCode(code)
}

// nodeACL is the ACL of nodes a run creates: open, as switchman's, unless
// the host authenticates; then only its credential may change them.
func (e *runEnv) nodeACL() []zk.ACL {
	if e.st.local.Auth == "" {
		return zk.WorldACL(zk.PermAll)
	}
	return append(zk.AuthACL(zk.PermAll), zk.WorldACL(zk.PermRead)...)
}

// skip logs why the run is skipped, counts it, and returns the skip exit.
func (e *runEnv) skip(reason string, fields func(*zerolog.Event) *zerolog.Event) error {
	ev := e.log.Info()
	if reason == reasonIneligible {
		ev = e.log.Debug() // the normal case on most hosts: no noise
	}
	if fields != nil {
		ev = fields(ev)
	}
	ev.Str("event", "skip").Str("reason", reason).Msg("skip")
	e.writeMetrics(func(m *runMetrics) { m.skips[reason]++ })
	return exitCode(e.o.skipCode)
}

// writeMetrics updates the node_exporter textfile when metrics_dir is set;
// a failure is logged and never changes the run's outcome.
func (e *runEnv) writeMetrics(change func(*runMetrics)) {
	dir := e.st.local.MetricsDir
	if dir == "" {
		return
	}
	if err := updateMetrics(dir, e.lockName, e.o.group, change); err != nil {
		e.log.Warn().Err(err).Msg("could not write metrics")
	}
}

// recordRun writes the run record, bounded in time: after a partition the
// write may hang until go-zookeeper gives up, and cron should not wait for
// it. A failure is logged and never changes the exit code.
func (e *runEnv) recordRun(sess *lock.Session, entry runEntry, prefetched <-chan recordRead) {
	done := make(chan error, 1)
	go func() {
		done <- writeRunRecord(sess, e.st.root, e.lockName, entry, e.st.local.RunsHistory, e.nodeACL(), prefetched)
	}()
	bound := min(sess.Timeout()/3, 5*time.Second)
	select {
	case err := <-done:
		if err != nil {
			e.log.Warn().Err(err).Msg("could not write the run record")
		}
	case <-time.After(bound):
		e.log.Warn().Dur("waited", bound).Msg("could not write the run record: ZooKeeper did not answer")
	}
}

// supervise waits for the child and stops it when the right to run is
// lost. It never calls ZooKeeper: a hung request must not delay a kill.
func (e *runEnv) supervise(child *supervise.Child, sess *lock.Session, ineligible <-chan string, signals <-chan os.Signal) string {
	stopReason := ""
	stop := func(reason, detail string, first syscall.Signal, killBy time.Time) {
		if stopReason == "" {
			stopReason = reason
			e.log.Warn().Str("event", "stop").Str("reason", reason).Str("detail", detail).Msg("stop")
		}
		child.Stop(first, killBy)
	}
	var timeout <-chan time.Time
	if e.o.timeout > 0 {
		t := time.NewTimer(e.o.timeout)
		defer t.Stop()
		timeout = t.C
	}
	for {
		select {
		case <-child.Done():
			return stopReason
		case loss := <-sess.Losses():
			if loss.Now {
				stop(string(loss.Reason), loss.Detail, syscall.SIGKILL, time.Now())
				continue
			}
			killBy := time.Now().Add(e.grace)
			if !loss.KillBy.IsZero() && loss.KillBy.Before(killBy) {
				killBy = loss.KillBy
			}
			stop(string(loss.Reason), loss.Detail, syscall.SIGTERM, killBy)
		case why := <-ineligible:
			stop(reasonIneligible, why, syscall.SIGTERM, time.Now().Add(e.grace))
		case <-timeout:
			stop(reasonTimeout, "--timeout "+e.o.timeout.String()+" passed", syscall.SIGTERM, time.Now().Add(e.grace))
		case sig := <-signals:
			s := sig.(syscall.Signal)
			if child.Stopping() {
				_ = child.Signal(s)
			}
			stop(reasonSignal, "cronguard got "+s.String(), s, time.Now().Add(e.grace))
		}
	}
}

// checkEligible reads the fleet config with a watch. It returns an error for
// a missing prefix, an invalid config or an unknown group, and a skip when
// this host is not in the group.
func (e *runEnv) checkEligible(sess *lock.Session) (<-chan zk.Event, error) {
	var data []byte
	var watch <-chan zk.Event
	prefix := e.st.root
	err := sess.Do(func() (err error) { data, _, watch, err = sess.Conn().GetW(prefix); return err })
	if errors.Is(err, zk.ErrNoNode) {
		return nil, fmt.Errorf("prefix %s does not exist in ZooKeeper: create it with a fleet config", prefix)
	}
	if err != nil {
		return nil, fmt.Errorf("reading fleet config %s: %w", prefix, err)
	}
	if e.o.group == "" && len(e.leases) == 0 {
		return watch, nil
	}
	fleet, err := config.ParseFleet(data)
	if err != nil {
		return nil, fmt.Errorf("fleet config in %s: %w", prefix, err)
	}
	if len(e.leases) > 0 {
		if e.leaseOrdered, err = e.leaseOrder(fleet); err != nil {
			return nil, err
		}
	}
	if e.o.group == "" {
		return watch, nil
	}
	ok, err := fleet.Eligible(e.o.group, e.st.hostname)
	if err != nil {
		return nil, fmt.Errorf("fleet config in %s: %w", prefix, err)
	}
	if !ok {
		return nil, e.skip(reasonIneligible, nil)
	}
	return watch, nil
}

// watchFleet re-reads the fleet config on every change and reconnect, and
// reports when this host is no longer eligible. An invalid config is logged
// and ignored: a bad edit must not kill running jobs.
func (e *runEnv) watchFleet(ctx context.Context, sess *lock.Session, watch <-chan zk.Event, out chan<- string) {
	prefix := e.st.root
	for {
		reconnected := sess.Reconnected()
		select {
		case <-ctx.Done():
			return
		case <-sess.Lost():
			return
		case <-watch:
		case <-reconnected:
		}
		var data []byte
		err := sess.Do(func() (err error) { data, _, watch, err = sess.Conn().GetW(prefix); return err })
		if err != nil {
			watch = nil
			if lock.Answered(err) {
				e.log.Warn().Err(err).Msg("cannot re-read the fleet config; keeping the last one")
			}
			continue
		}
		fleet, err := config.ParseFleet(data)
		if err != nil {
			e.log.Warn().Err(err).Msg("fleet config is invalid; ignored, the job keeps running")
			continue
		}
		ok, err := fleet.Eligible(e.o.group, e.st.hostname)
		switch {
		case errors.Is(err, config.ErrUnknownGroup):
			out <- "group " + e.o.group + " was removed from the fleet config"
			return
		case err != nil:
			e.log.Warn().Err(err).Msg("fleet config is invalid; ignored, the job keeps running")
		case !ok:
			out <- "host " + e.st.hostname + " is no longer in group " + e.o.group
			return
		default:
			e.log.Debug().Msg("fleet config changed; still eligible")
		}
	}
}

// lockData is what the lock node holds, for status and for humans.
func (e *runEnv) lockData() []byte {
	data, _ := json.Marshal(struct {
		Host    string `json:"host"`
		PID     int    `json:"pid"`
		RunID   string `json:"run_id"`
		Start   string `json:"start"`
		Command string `json:"command"`
	}{e.st.hostname, os.Getpid(), e.runID, time.Now().UTC().Format(time.RFC3339Nano), strings.Join(e.o.command, " ")})
	return data
}

func newRunID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// splayDelay is hash(lock) mod d: the same on every host, so a job's start
// moves off the minute boundary without hosts disagreeing about it.
func splayDelay(lockName string, d time.Duration) time.Duration {
	h := fnv.New64a()
	h.Write([]byte(lockName))
	return time.Duration(h.Sum64() % uint64(d))
}
