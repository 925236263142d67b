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
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/cronguard/cronguard/lock"
	"github.com/cronguard/cronguard/metadata"
	"github.com/cronguard/cronguard/schedule"
	"github.com/cronguard/cronguard/session"
	"github.com/cronguard/cronguard/supervise"
)

// Stop reasons of the contract that the run raises itself (the lock package
// raises fence, session_expired and lock_lost).
const (
	reasonIneligible = "ineligible"
	reasonTimeout    = "timeout"
	reasonSignal     = "signal"
	// reasonOOM: the kernel's OOM killer killed a process of the job in
	// its cgroup (--memory-max).
	reasonOOM = "oom"
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
	schedule  string
	now       string // hidden --now: the moment cron fired, for tests
	output    string // --output always|failure
	ping      string // --ping URL (overrides the config's ping_url)
	noPing    bool
	command   []string
	// Resource limits (run_limits.go), as written.
	nice, ionice, memoryMax, cpuMax string
	rlimits                         []string

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
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			return o.run(ctx)
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
	f.Lookup("kill-grace").DefValue = "" // the usage says the default; pflag would add "(default 0s)"
	f.Var(durationValue{&o.splay}, "splay", "delay hash(lock) mod D before contacting ZooKeeper, the same on every host")
	f.IntVar(&o.skipCode, "skip-code", 0, "exit code when the run is skipped")
	f.StringVar(&o.schedule, "schedule", "", "the cron line's schedule (5 fields or an @macro): run once per slot across the fleet, skip (already_ran) a slot claimed already")
	f.StringVar(&o.now, "now", "", "compute the slot as if cron had fired at this RFC 3339 time (tests)")
	_ = f.MarkHidden("now")
	f.StringVar(&o.output, "output", outputAlways, "always: the job's stdout and stderr pass through; failure: held, written out only if the run fails (chronic)")
	f.StringVar(&o.ping, "ping", "", "healthchecks.io-style URL pinged at start, success and failure ({lock}: the lock name; default: key ping_url)")
	f.BoolVar(&o.noPing, "no-ping", false, "send no pings, whatever ping_url says")
	addLimitFlags(f, o)
	f.StringArrayVar(&o.leases, "lease", nil, "RES=COUNT:TOTAL lease of a resource listed in the fleet config (repeatable; macros CPU, MEMMB, FQDN)")
	return cmd
}

// runEnv is everything one run needs once the options are resolved. Each
// step of a run has a file: run_fleet.go (session, eligibility), run_lock.go,
// run_lease.go, run_supervise.go (the job's life), runrecord.go.
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
	// limits are the job's resource limits; nil: none.
	limits *supervise.Limits
	// waitStart is when the run began waiting for its lock: --wait bounds
	// the lock and the leases together.
	waitStart time.Time
	signals   *runSignals

	// sess is the run's session. A run that waits may replace it when it
	// expires (a new session, a new place in the queues); a run that holds
	// nothing replaces it to keep watching the fleet config.
	sessMu sync.Mutex
	sess   *session.Session
	// fleetWatch fires when the fleet config changes after it was read.
	fleetWatch <-chan zk.Event

	// sched and slot: run --schedule; slot is fixed when the run starts.
	sched *schedule.Schedule
	slot  time.Time
	// slotAt is the moment the slot was computed for (cron fired);
	// slotsMissed the slots between the previous claim and this one.
	slotAt      time.Time
	slotsMissed int
	// record is the run record's read in flight (or the claim's result),
	// for the next compare-and-set of it.
	record <-chan recordRead
	// held is the job's output under --output failure, else nil.
	held *heldOutput
	// pinger pings the job's check (--ping, ping_url), else nil.
	pinger *pinger
	// fleetJudged is set once the run has judged this host against the
	// fleet config; inNoGroup then says the host is in no group at all
	// (the cronguard_host_in_no_group gauge).
	fleetJudged, inNoGroup bool

	// sink logs to the log's sink alone (not stderr); began is when the
	// run began (the start of an entry for a job that never started);
	// contactChecked is set once the outage state was looked at.
	sink           zerolog.Logger
	began          time.Time
	contactChecked bool
}

func (o *runOptions) run(ctx context.Context) error {
	ctx, signals := withStopSignals(ctx)
	defer signals.stop()
	st, err := o.g.resolve()
	if err != nil {
		return err
	}
	l := st.local
	log, sinkOnly, notice, err := newRunLogger(l.LogLevel, l.LogFormat, l.LogFile, o.g.stderr, defaultSinks(l.StateDir))
	if err != nil {
		return err
	}
	e := &runEnv{o: o, st: st, lockName: o.lockName, runID: newRunID(), grace: l.TerminationTimeout, signals: signals,
		began: time.Now()}
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
	e.sink = fields(sinkOnly.With())
	if notice != "" {
		// Where the events go when not where configured: one line, mailed.
		e.log.Warn().Str("event", "log_sink").Msg(notice)
	}
	st.logWarnings(e.log)
	err = e.execute(ctx)
	var ee *exitError
	if err != nil && (!errors.As(err, &ee) || ee.err != nil) {
		// Main prints the error on stderr; the log must say why too.
		ev := e.sink.Error().Str("event", "error")
		var sf *startFailure
		if errors.As(err, &sf) {
			ev = ev.Str("failed_before_start", sf.reason)
		}
		ev.Err(err).Msg("error")
	}
	return err
}

func (e *runEnv) execute(ctx context.Context) error {
	o := e.o
	now := time.Now()
	if o.now != "" {
		t, err := time.Parse(time.RFC3339Nano, o.now)
		if err != nil {
			return fmt.Errorf("--now %q: want an RFC 3339 time", o.now)
		}
		now = t.In(time.Local)
	}
	if err := e.parseSchedule(now); err != nil {
		return err
	}
	if err := e.parseLeases(); err != nil {
		return err
	}
	if o.output != outputAlways && o.output != outputFailure {
		return fmt.Errorf("--output %q: want always or failure", o.output)
	}
	if err := e.setupPinger(); err != nil {
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
	if err := e.parseLimits(); err != nil {
		return err
	}
	path, code, err := supervise.Resolve(o.command[0])
	if err != nil {
		return e.notStarted(ctx, code, err)
	}
	if o.splay > 0 {
		t := time.NewTimer(splayDelay(e.lockName, o.splay))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return e.skipSignal()
		}
	}
	return e.guardedRun(ctx, path)
}

// holdsNothing: a run without lock or leases has nothing a partition could
// let another host take, so losing contact never stops its job.
func (e *runEnv) holdsNothing() bool { return e.o.noLock && len(e.leases) == 0 }

func (e *runEnv) guardedRun(ctx context.Context, path string) error {
	o := e.o
	if err := e.connect(ctx); err != nil {
		return e.failedBeforeStart(err)
	}
	// Closing the session is what releases the lock and the leases (their
	// nodes are ephemeral); it runs only after the job is confirmed dead
	// below. On a dead link the nodes go when the session expires.
	defer func() { e.session().Close() }()

	// Start the job's shim now, waiting for the go: its start-up overlaps
	// taking the lock. Until Go, an abort (lock busy, any error) ends it.
	if err := supervise.SetSubreaper(); err != nil {
		e.log.Warn().Err(err).Msg("cannot become a child subreaper: descendants that call setsid may escape a stop")
	}
	spec := supervise.Spec{Path: path, Args: o.command, LeftoverGrace: e.grace,
		Env:    append(os.Environ(), "CRONGUARD_LOCK="+e.lockName, "CRONGUARD_GROUP="+o.group, "CRONGUARD_RUN_ID="+e.runID),
		Limits: e.limits}
	if o.output == outputFailure {
		held, err := newHeldOutput(os.TempDir())
		if err != nil {
			return err
		}
		e.held = held
		defer held.close()
		spec.Stdout, spec.Stderr = held.stdout, held.stderr
	}
	// Take the lock while the shim starts: the lock's create, a ZooKeeper
	// write synced to disk, overlaps the shim's fork and exec, which hold
	// this thread (vfork) until the shim runs. The yield lets the create
	// reach the socket first (one P: the acquiring goroutine, then the
	// connection's sender, run before this one again).
	type acquired struct {
		lk  *lock.Lock
		err error
	}
	acq := make(chan acquired, 1)
	go func() {
		lk, err := e.acquire(ctx)
		acq <- acquired{lk, err}
	}()
	runtime.Gosched()
	pending, err := supervise.Prepare(spec, supervise.WithLogger(e.log), shimOption(e.log))
	got := <-acq
	if err != nil {
		// The lock, if taken, goes with the session (closed above).
		return fmt.Errorf("starting %s: %w", o.command[0], err)
	}
	jobStarted := false
	defer func() {
		if !jobStarted {
			pending.Abort()
		}
	}()
	lk, err := got.lk, got.err
	if err != nil {
		return err
	}
	sess := e.session()
	// Eligibility at the moment of starting: a host unassigned while the
	// run waited never starts the job.
	if err := e.stillEligible(ctx); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return e.skipSignal()
	}
	if err := sess.Err(); err != nil && !e.holdsNothing() {
		return fmt.Errorf("lost the right to run before starting: %w", err)
	}
	if err := e.claimSlot(ctx); err != nil {
		return err
	}

	gctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if lk != nil {
		lk.Watch(gctx)
		sess.Guard(gctx, lk.Probe)
	} else if !e.holdsNothing() {
		sess.Guard(gctx, func() bool {
			return sess.Do(func() error { _, _, err := sess.Conn().Exists(e.st.root); return err }) == nil
		})
	}
	ineligible := make(chan string, 1)
	if o.group != "" {
		go e.watchFleet(gctx, ineligible)
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
	if e.pinger != nil {
		e.pinger.start()
	}
	e.log.Info().Str("event", "start").Int("child_pid", child.Pid()).Str("fence", fence).
		Strs("command", o.command).Msg("start")
	// Read the run record while the job runs: only the write is left for
	// the end, one round trip fewer between the job's end and cron's. A
	// scheduled run has it from its claim.
	record := e.record
	if record == nil {
		record = prefetchRunRecord(sess, e.st.root, e.lockName)
	}

	stopReason := e.supervise(child, sess, lk, ineligible)
	return e.finish(child, stopReason, record)
}

// nodeACL is the ACL of nodes a run creates: open, as switchman's, unless
// the host authenticates (auth); then everyone may read them, and only the
// run's credential may change or delete them: all rights but ADMIN, so no
// worker changes an ACL. The operator's credential is not known to the run
// (learning it would cost every run a request): the operator deletes such
// a node through the directory holding it, where it has DELETE, but cannot
// change its data. The directories and run records a run creates add their
// parent's credentials, the operator's among them (lease.ChildACL).
func (e *runEnv) nodeACL() []zk.ACL {
	if e.st.local.Auth == "" {
		return zk.WorldACL(zk.PermAll)
	}
	return append(zk.AuthACL(zk.PermAll&^zk.PermAdmin), zk.WorldACL(zk.PermRead)...)
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

// skipSignal ends a run that got a stop signal before its job started: as
// if the signal had killed it (128+N); nothing is left in ZooKeeper once
// the session closes.
func (e *runEnv) skipSignal() error {
	sig := e.signals.received()
	e.log.Info().Str("event", "skip").Str("reason", reasonSignal).Str("signal", sig.String()).Msg("skip")
	return exitCode(128 + int(sig))
}

// writeMetrics updates the node_exporter textfile when metrics_dir is set;
// a failure is logged and never changes the run's outcome.
func (e *runEnv) writeMetrics(change func(*runMetrics)) {
	dir := e.st.local.MetricsDir
	if dir == "" {
		return
	}
	if e.fleetJudged {
		inner := change
		change = func(m *runMetrics) {
			inner(m)
			m.hostInNoGroup = 0
			if e.inNoGroup {
				m.hostInNoGroup = 1
			}
		}
	}
	if err := updateMetrics(dir, e.lockName, e.o.group, change); err != nil {
		e.log.Warn().Err(err).Msg("could not write metrics")
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
	}{e.st.hostname, os.Getpid(), e.runID, time.Now().UTC().Format(time.RFC3339Nano), metadata.QuoteWords(e.o.command)})
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
