//go:build linux

package supervise

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// Sweep timing, used only when processes of the job outlive the shim (it
// was SIGKILLed) or in WithoutShim mode. The poll interval starts short
// because the usual leftover dies within a millisecond of SIGKILL, and
// grows so that a process stuck in uninterruptible sleep does not keep a
// CPU busy with /proc walks; sweepPollMax bounds how late we notice the
// tree is gone (and so how late the lock is released).
const (
	sweepPollMin = time.Millisecond
	sweepPollMax = 50 * time.Millisecond
	// sweepWarnEvery: how often to log that the job will not die (D
	// state, a frozen NFS mount). Often enough to show in the log why
	// the lock is still held; rarely enough not to flood it.
	sweepWarnEvery = 5 * time.Second
)

// roots are the pids of the processes that Start forked and has not reaped
// yet (shims, or commands with WithoutShim), in this process. They are
// direct children of ours that belong to some Child and must never be
// taken for a job's orphan. Start holds the lock across the fork, so a
// sweep never sees a root that is not registered yet.
var roots = struct {
	sync.Mutex
	pids map[int]bool
}{pids: map[int]bool{}}

// SetSubreaper makes this process a child subreaper
// (PR_SET_CHILD_SUBREAPER): if a shim dies, the job's descendants that left
// its process group are reparented here instead of to init, where a Child
// can still find and kill them. Call it once, early, in cronguard.
func SetSubreaper() error {
	return unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
}

func isSubreaper() bool {
	var v int32
	err := unix.Prctl(unix.PR_GET_CHILD_SUBREAPER, uintptr(unsafe.Pointer(&v)), 0, 0, 0)
	return err == nil && v != 0
}

// Child is a running job. Its methods are safe from any goroutine.
type Child struct {
	pid        int // shim (or command) pid == the job's process group
	started    time.Time
	startTicks uint64 // boot-time clock ticks at Start, to attribute orphans
	viaShim    bool
	grace      time.Duration // leftover grace (WithoutShim: applied here)
	log        zerolog.Logger
	self       int
	selfPgid   int
	statusFd   int // read end of the shim's status pipe, or -1

	reaped   atomic.Bool // the root process has been reaped: its pid may be reused
	finished atomic.Bool // Done is closed

	mu       sync.Mutex
	stopping bool
	killed   bool // SIGKILL sent to the tree
	killBy   time.Time
	timer    *time.Timer

	done   chan struct{}
	result Result
}

// Start starts the job (through the shim unless WithoutShim) and returns
// once it runs. Failure to execute the command itself is not an error: the
// run ends with Result.ExitCode 127 or 126 and a one-line message on the
// job's stderr, as in a shell.
func Start(spec Spec, opts ...Option) (*Child, error) {
	c, _, err := startChild(spec, false, opts)
	return c, err
}

// Pending is a job whose shim is started but waits before it runs the
// command: see Prepare.
type Pending struct {
	c    *Child
	goFd int // write end of the go pipe; -1 once used
	spec Spec
	opts []Option
}

// Prepare starts the shim now and has it wait, in the job's process group
// with its parent-death signal armed, until Go or Abort. Its start-up (a
// second Go process, about 5 ms) then overlaps what the caller still has to
// do, such as taking the lock, instead of following it. Without the shim
// (WithoutShim) nothing starts before Go.
func Prepare(spec Spec, opts ...Option) (*Pending, error) {
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	if o.noShim {
		return &Pending{goFd: -1, spec: spec, opts: opts}, nil
	}
	c, goFd, err := startChild(spec, true, opts)
	if err != nil {
		return nil, err
	}
	return &Pending{c: c, goFd: goFd}, nil
}

// Go runs the command, with extraEnv (KEY=VALUE entries known only now,
// such as the fencing token) added to the Spec's environment.
func (p *Pending) Go(extraEnv []string) (*Child, error) {
	if p.c == nil {
		spec := p.spec
		if spec.Env == nil {
			spec.Env = os.Environ()
		}
		spec.Env = append(append([]string(nil), spec.Env...), extraEnv...)
		return Start(spec, p.opts...)
	}
	if p.goFd < 0 {
		return nil, errors.New("supervise: Go after Go or Abort")
	}
	msg := goMessage
	for _, kv := range extraEnv {
		msg += kv + "\x00"
	}
	p.c.setStarted(time.Now())
	_, err := unix.Write(p.goFd, []byte(msg))
	unix.Close(p.goFd)
	p.goFd = -1
	if err != nil {
		// The shim is gone (killed, or cronguard's death raced us).
		return nil, fmt.Errorf("supervise: the shim did not take the go: %w", err)
	}
	p.c.log.Debug().Int("child_pid", p.c.pid).Msg("supervise: go")
	return p.c, nil
}

// Abort ends a prepared shim without running the command.
func (p *Pending) Abort() {
	if p.c != nil && p.goFd >= 0 {
		unix.Close(p.goFd)
		p.goFd = -1
	}
}

func startChild(spec Spec, prepared bool, opts []Option) (*Child, int, error) {
	o := options{log: zerolog.Nop(), shim: "/proc/self/exe"}
	for _, opt := range opts {
		opt(&o)
	}
	if spec.Path == "" {
		return nil, -1, errors.New("supervise: empty command path")
	}
	path := spec.Path
	if !filepath.IsAbs(path) && strings.Contains(path, "/") {
		// Relative to our directory, as resolved, not to spec.Dir.
		if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
	}
	argv := spec.Args
	if len(argv) == 0 {
		argv = []string{spec.Path}
	}
	env := spec.Env
	if env == nil {
		env = os.Environ()
	}
	stdio := [3]*os.File{spec.Stdin, spec.Stdout, spec.Stderr}
	for i, def := range [3]*os.File{os.Stdin, os.Stdout, os.Stderr} {
		if stdio[i] == nil {
			stdio[i] = def
		}
	}
	files := make([]uintptr, 0, 4)
	for _, f := range stdio {
		files = append(files, fdOrClosed(f))
	}
	grace := spec.LeftoverGrace
	if grace == 0 {
		grace = DefaultLeftoverGrace
	} else if grace < 0 {
		grace = 0
	}

	c := &Child{
		viaShim:    !o.noShim,
		grace:      grace,
		log:        o.log,
		self:       os.Getpid(),
		selfPgid:   unix.Getpgrp(),
		statusFd:   -1,
		done:       make(chan struct{}),
		startTicks: bootTicks(),
	}
	if !isSubreaper() {
		c.log.Warn().Msg("supervise: this process is not a child subreaper (call SetSubreaper): if the shim dies, processes that left the job's group escape")
	}

	exe, exeArgv := path, argv
	sys := &syscall.SysProcAttr{
		// A process group of its own: the whole job can be signalled
		// at once with kill(-pgid), and signals to cron's group (or
		// cronguard's) do not hit the job behind our back.
		Setpgid: true,
		// Dies with cronguard. Linux ties this to the forking thread,
		// which is why run() locks it (see there).
		Pdeathsig: syscall.SIGKILL,
	}
	var statusW int = -1
	goR, goW := -1, -1
	if c.viaShim {
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
			return nil, -1, fmt.Errorf("supervise: status pipe: %w", err)
		}
		_ = unix.SetNonblock(p[0], true)
		c.statusFd, statusW = p[0], p[1]
		files = append(files, uintptr(statusW))
		exe = o.shim
		exeArgv = make([]string, 0, 12+len(argv))
		exeArgv = append(exeArgv, "cronguard-shim", ShimArg,
			"--ppid", strconv.Itoa(c.self),
			"--status-fd", "3",
			"--grace", grace.String())
		if prepared {
			var g [2]int
			if err := unix.Pipe2(g[:], unix.O_CLOEXEC); err != nil {
				unix.Close(c.statusFd)
				unix.Close(statusW)
				return nil, -1, fmt.Errorf("supervise: go pipe: %w", err)
			}
			goR, goW = g[0], g[1]
			files = append(files, uintptr(goR))
			exeArgv = append(exeArgv, "--go-fd", "4")
		}
		exeArgv = append(exeArgv, "--", path)
		exeArgv = append(exeArgv, argv...)
		// The shim catches its parent-death signal (see
		// shimParentDeathSignal) to kill the job's tree first.
		sys.Pdeathsig = shimParentDeathSignal
	}
	attr := &syscall.ProcAttr{Dir: spec.Dir, Env: env, Files: files, Sys: sys}

	started := make(chan error, 1)
	go c.run(exe, exeArgv, attr, started)
	err := <-started
	runtime.KeepAlive(stdio)
	if statusW >= 0 {
		unix.Close(statusW)
	}
	if goR >= 0 {
		unix.Close(goR)
	}
	if err != nil {
		if goW >= 0 {
			unix.Close(goW)
		}
		if c.statusFd >= 0 {
			unix.Close(c.statusFd)
		}
		if c.viaShim {
			return nil, -1, fmt.Errorf("supervise: starting shim %s: %w", o.shim, err)
		}
		// WithoutShim: the command itself could not be executed.
		code := execFailureCode(err)
		fmt.Fprintf(stdio[2], "cronguard: %s: %v\n", path, err)
		c.result = Result{ExitCode: code}
		c.finished.Store(true)
		close(c.done)
		return c, -1, nil
	}
	c.log.Debug().Int("child_pid", c.pid).Bool("shim", c.viaShim).Bool("prepared", prepared).Msg("supervise: started")
	return c, goW, nil
}

// run forks the root process and waits for it. The parent-death signal is
// tied to the forking OS thread, not to the process: if that thread ended
// while the child ran, the child would get its parent-death signal. So the
// fork and the wait happen in this goroutine, locked to its thread until
// the child is reaped.
func (c *Child) run(exe string, argv []string, attr *syscall.ProcAttr, started chan<- error) {
	runtime.LockOSThread()
	c.setStarted(time.Now())
	roots.Lock()
	pid, err := syscall.ForkExec(exe, argv, attr)
	if err == nil {
		roots.pids[pid] = true
	}
	roots.Unlock()
	if err != nil {
		runtime.UnlockOSThread()
		started <- err
		return
	}
	c.pid = pid
	started <- nil

	var ws unix.WaitStatus
	var ru unix.Rusage
	for {
		_, err = unix.Wait4(pid, &ws, 0, &ru)
		if err != unix.EINTR {
			break
		}
	}
	c.reaped.Store(true)
	roots.Lock()
	delete(roots.pids, pid)
	roots.Unlock()
	runtime.UnlockOSThread()
	c.finish(ws, ru, err)
}

// finish computes the result, makes sure no process of the job is left,
// and closes Done.
func (c *Child) finish(ws unix.WaitStatus, ru unix.Rusage, waitErr error) {
	res := Result{
		Duration: time.Since(c.Started()),
		MaxRSSKB: int64(ru.Maxrss),
		UserCPU:  time.Duration(ru.Utime.Nano()),
		SysCPU:   time.Duration(ru.Stime.Nano()),
	}
	if waitErr != nil {
		c.log.Error().Err(waitErr).Int("child_pid", c.pid).Msg("supervise: wait4 failed; exit status unknown")
		res.ExitCode = ExitShimFailure
	} else {
		res.ExitCode, res.Signal = exitCodeFor(ws.Exited(), ws.ExitStatus(), ws.Signaled(), ws.Signal())
	}
	clean := !c.viaShim // WithoutShim: checked below like any run
	if c.viaShim {
		st := readShimStatus(c.statusFd)
		unix.Close(c.statusFd)
		if st.haveStatus {
			res.ExitCode, res.Signal = exitCodeFor(st.status.Exited(), st.status.ExitStatus(), st.status.Signaled(), st.status.Signal())
		}
		if st.clean {
			clean = true
			res.UserCPU, res.SysCPU, res.MaxRSSKB = st.utime, st.stime, st.maxRSS
		} else {
			// Expected after a SIGKILL of the group (which hits the shim
			// too), so not a warning: the sweep below makes sure.
			c.log.Debug().Int("child_pid", c.pid).Str("shim_status", describe(ws)).
				Msg("supervise: the shim ended without confirming the job is gone; sweeping")
		}
	}
	deadline := time.Now()
	if !c.viaShim {
		// The shim's leftover grace, applied here; never past a kill
		// deadline the caller set.
		deadline = deadline.Add(c.grace)
		c.mu.Lock()
		if c.killed {
			deadline = time.Now()
		} else if c.stopping && c.killBy.Before(deadline) {
			deadline = c.killBy
		}
		c.mu.Unlock()
	}
	if !clean || !c.treeGone() {
		c.sweep(deadline)
	}

	c.mu.Lock()
	c.result = res
	if c.timer != nil {
		c.timer.Stop()
	}
	c.finished.Store(true)
	c.mu.Unlock()
	c.log.Debug().Int("child_pid", c.pid).Int("exit", res.ExitCode).Dur("duration", res.Duration).Msg("supervise: done")
	close(c.done)
}

type shimStatus struct {
	haveStatus   bool
	status       unix.WaitStatus
	clean        bool
	utime, stime time.Duration
	maxRSS       int64
}

// readShimStatus reads what the (dead) shim wrote on its status pipe.
func readShimStatus(fd int) (st shimStatus) {
	var buf [512]byte
	n := 0
	for n < len(buf) {
		m, err := unix.Read(fd, buf[n:])
		if err == unix.EINTR {
			continue
		}
		if m <= 0 {
			break
		}
		n += m
	}
	for _, line := range bytes.Split(buf[:n], []byte{'\n'}) {
		f := strings.Fields(string(line))
		switch {
		case len(f) == 2 && f[0] == "S":
			if v, err := strconv.ParseUint(f[1], 10, 32); err == nil {
				st.haveStatus, st.status = true, unix.WaitStatus(v)
			}
		case len(f) == 4 && f[0] == "C":
			u, err1 := strconv.ParseInt(f[1], 10, 64)
			s, err2 := strconv.ParseInt(f[2], 10, 64)
			r, err3 := strconv.ParseInt(f[3], 10, 64)
			if err1 == nil && err2 == nil && err3 == nil {
				st.clean = true
				st.utime, st.stime, st.maxRSS = time.Duration(u)*time.Microsecond, time.Duration(s)*time.Microsecond, r
			}
		}
	}
	return st
}

func describe(ws unix.WaitStatus) string {
	switch {
	case ws.Exited():
		return "exit " + strconv.Itoa(ws.ExitStatus())
	case ws.Signaled():
		return ws.Signal().String()
	}
	return "unknown"
}

// Pid is the pid of the shim (of the command with WithoutShim), which is
// also the job's process group id. It is 0 if, with WithoutShim, the
// command could not be executed.
func (c *Child) Pid() int { return c.pid }

// Started is when Start forked.
func (c *Child) Started() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.started
}

// setStarted records when the command started: at the fork, or at Go for a
// prepared shim.
func (c *Child) setStarted(t time.Time) {
	c.mu.Lock()
	c.started = t
	c.mu.Unlock()
}

// Done is closed when the shim has been reaped and no process of the job
// remains: its process group is empty and no descendant of ours is left.
func (c *Child) Done() <-chan struct{} { return c.done }

// Result is the outcome; valid after Done is closed.
func (c *Child) Result() Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.result
}

// Stopping reports whether Stop has been called.
func (c *Child) Stopping() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopping
}

// Signal sends sig to the job's whole process group and to every
// descendant that left it (found by a /proc walk). It returns
// os.ErrProcessDone once the job is gone.
func (c *Child) Signal(sig syscall.Signal) error {
	if c.finished.Load() || c.pid <= 0 {
		return os.ErrProcessDone
	}
	procs := allProcs()
	tree := c.tree(procs)
	errG := unix.Kill(-c.pid, sig)
	n := signalProcs(tree, sig, c.pid)
	if errG == unix.ESRCH && n == 0 {
		return os.ErrProcessDone
	}
	if errG != nil && errG != unix.ESRCH {
		return fmt.Errorf("supervise: kill(-%d, %v): %w", c.pid, sig, errG)
	}
	return nil
}

// Stop begins stopping the job; it never resumes. The first call sends
// first (usually SIGTERM, followed by SIGCONT so a stopped process can act
// on it) to the tree, and SIGKILL follows at killBy. Later calls can only
// move killBy earlier: a fence deadline can shorten the grace, nothing can
// extend it. first == SIGKILL, or killBy not in the future, kills at once;
// first == 0 sends nothing before the kill.
//
// Stop never blocks and does no I/O but signals: the process group is
// signalled at once; descendants that left the group are found by a /proc
// walk in another goroutine.
func (c *Child) Stop(first syscall.Signal, killBy time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.finished.Load() || c.killed || c.pid <= 0 {
		return // c.pid <= 0 would signal our own group
	}
	now := time.Now()
	killNow := first == syscall.SIGKILL || !killBy.After(now)
	if !c.stopping {
		c.stopping = true
		c.killBy = killBy
		if !killNow {
			if first != 0 {
				_ = unix.Kill(-c.pid, first)
				if first != syscall.SIGCONT {
					_ = unix.Kill(-c.pid, syscall.SIGCONT)
				}
				go c.signalEscapees(first)
			}
			c.timer = time.AfterFunc(killBy.Sub(now), c.killTimer)
			return
		}
	}
	if killNow {
		c.killLocked()
		return
	}
	if killBy.Before(c.killBy) {
		c.killBy = killBy
		c.timer.Reset(killBy.Sub(now))
	}
}

func (c *Child) killTimer() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.finished.Load() || c.killed {
		return
	}
	if d := time.Until(c.killBy); d > 0 {
		c.timer.Reset(d)
		return
	}
	c.killLocked()
}

// killLocked SIGKILLs the group at once and the escapees from another
// goroutine. Caller holds c.mu.
func (c *Child) killLocked() {
	c.killed = true
	if c.timer != nil {
		c.timer.Stop()
	}
	_ = unix.Kill(-c.pid, syscall.SIGKILL)
	go c.signalEscapees(syscall.SIGKILL)
}

// signalEscapees signals the processes of the job outside its group.
func (c *Child) signalEscapees(sig syscall.Signal) {
	if c.finished.Load() {
		return
	}
	// Logged here, not in Stop, which must not do I/O.
	c.log.Debug().Int("child_pid", c.pid).Str("signal", sig.String()).Msg("supervise: signalled the job's group")
	signalProcs(c.tree(allProcs()), sig, c.pid)
	if sig != syscall.SIGKILL && sig != syscall.SIGCONT {
		signalProcs(c.tree(allProcs()), syscall.SIGCONT, c.pid)
	}
}

// tree returns the job's processes in procs: the members of its group,
// the descendants of the root while it is not reaped, and the orphans of
// the job that were reparented to us (we are a subreaper) with their
// descendants.
func (c *Child) tree(procs []proc) []proc {
	var rs []int
	if !c.reaped.Load() {
		rs = append(rs, c.pid)
	}
	orphans := c.orphans(procs)
	rs = append(rs, orphans...)
	tree := treeOf(procs, c.pid, rs, 0)
	// The orphans themselves, not only their descendants.
	in := make(map[int]bool, len(tree))
	for _, p := range tree {
		in[p.pid] = true
	}
	for _, p := range procs {
		if !in[p.pid] && slices.Contains(orphans, p.pid) {
			tree = append(tree, p)
		}
	}
	return tree
}

// orphans returns the direct children of this process that belong to the
// job: after the shim (WithoutShim: the command's parent in the job) died,
// its orphans are reparented to us. A child of ours is taken for the job's
// when it is not the root of a running Child, was started after this
// Child, and is not in our own process group (where children started by
// other code, os/exec's default, live).
func (c *Child) orphans(procs []proc) []int {
	roots.Lock()
	defer roots.Unlock()
	var out []int
	for _, p := range procs {
		if p.ppid == c.self && c.mine(p) {
			out = append(out, p.pid)
		}
	}
	return out
}

// mine tells whether p, a direct child of ours, belongs to this job.
// Caller holds roots.
func (c *Child) mine(p proc) bool {
	if roots.pids[p.pid] {
		return false
	}
	if p.pgid == c.pid {
		return true
	}
	return p.pgid != c.selfPgid && p.start+1 >= c.startTicks
}

// treeGone is the cheap check that nothing of the job is left: its group
// is empty and we have no child that belongs to it.
func (c *Child) treeGone() bool {
	if groupAlive(c.pid) {
		return false
	}
	if !mayHaveChildren() {
		return true // not even one child: nothing reparented to us
	}
	return len(c.ownChildren()) == 0
}

// ownChildren lists our direct children that belong to the job, reading
// only /proc/self/task/*/children and their stat files.
func (c *Child) ownChildren() []int {
	kids := selfChildren()
	if len(kids) == 0 {
		return nil
	}
	buf := make([]byte, 1024)
	roots.Lock()
	defer roots.Unlock()
	var out []int
	for _, pid := range kids {
		if p, ok := readProc(pid, buf); ok && c.mine(p) {
			out = append(out, pid)
		}
	}
	return out
}

// sweep kills what is left of the job and reaps what it can: SIGTERM
// (with SIGCONT) until deadline, SIGKILL after, repeating until the group
// is empty and no process of the job is our child.
func (c *Child) sweep(deadline time.Time) {
	start := time.Now()
	lastWarn := start
	delay := sweepPollMin
	termSent := false
	for {
		c.reapOrphans()
		if c.treeGone() {
			if time.Since(start) > 100*time.Millisecond {
				c.log.Info().Int("child_pid", c.pid).Dur("took", time.Since(start)).Msg("supervise: leftovers gone")
			}
			return
		}
		now := time.Now()
		killing := !now.Before(deadline)
		if killing || !termSent {
			sig := syscall.SIGKILL
			if !killing {
				sig = syscall.SIGTERM
				termSent = true
			}
			procs := allProcs()
			tree := c.tree(procs)
			if sig == syscall.SIGTERM || now.Sub(lastWarn) >= sweepWarnEvery {
				lastWarn = now
				c.log.Warn().Int("child_pid", c.pid).Int("processes", len(tree)).Str("signal", sig.String()).
					Dur("since_exit", now.Sub(start)).Msg("supervise: processes of the job outlived it")
			}
			_ = unix.Kill(-c.pid, sig)
			signalProcs(tree, sig, c.pid)
			if sig != syscall.SIGKILL {
				_ = unix.Kill(-c.pid, syscall.SIGCONT)
				signalProcs(tree, syscall.SIGCONT, c.pid)
			}
		}
		d := delay
		if !killing {
			if left := deadline.Sub(now); left < d {
				d = left
			}
		}
		time.Sleep(d)
		if delay *= 2; delay > sweepPollMax {
			delay = sweepPollMax
		}
	}
}

// reapOrphans reaps the job's processes that are our children and have
// exited: the members of its group and the other orphans attributed to it.
// It never waits for anything else (os/exec's children are not touched).
func (c *Child) reapOrphans() {
	var ws unix.WaitStatus
	for {
		pid, err := unix.Wait4(-c.pid, &ws, unix.WNOHANG, nil)
		if pid <= 0 && err != unix.EINTR {
			break
		}
	}
	for _, pid := range c.ownChildren() {
		for {
			_, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
			if err != unix.EINTR {
				break
			}
		}
	}
}

// bootTicks is CLOCK_BOOTTIME in the clock ticks of /proc/PID/stat's
// starttime (USER_HZ, 100 on every architecture Go supports on Linux).
func bootTicks() uint64 {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts) != nil {
		return 0
	}
	return uint64(ts.Sec)*100 + uint64(ts.Nsec)/1e7
}

// fdOrClosed returns f's descriptor, or -1 (closed in the child) if it is
// not open: the child then starts with it closed instead of failing.
func fdOrClosed(f *os.File) uintptr {
	if f == nil {
		return ^uintptr(0)
	}
	fd := f.Fd()
	if _, err := unix.FcntlInt(fd, unix.F_GETFD, 0); err != nil {
		return ^uintptr(0)
	}
	return fd
}
