//go:build linux

// The supervise package is split by a job's lifecycle: this file starts a
// job (Start, the fork in run) and finishes it (finish, Result); see
// prepare_linux.go for a shim started ahead of the go, stop_linux.go for
// stopping on the caller's orders, sweep_linux.go for finding and killing
// what is left of the job's tree.

package supervise

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
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
	statusFd   int        // read end of the shim's status pipe, or -1
	cg         *runCgroup // the run's cgroup, or nil

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

func startChild(spec Spec, prepared bool, opts []Option) (*Child, int, error) {
	o := options{log: zerolog.Nop(), shim: "/proc/self/exe"}
	for _, opt := range opts {
		opt(&o)
	}
	if spec.Path == "" {
		return nil, -1, errors.New("supervise: empty command path")
	}
	if spec.Limits != nil && o.noShim {
		return nil, -1, errors.New("supervise: resource limits need the shim")
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
		// Before anything starts: a limit the host cannot enforce
		// must stop the run here.
		cg, err := newRunCgroup(spec.Limits)
		if err != nil {
			return nil, -1, err
		}
		c.cg = cg
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
			_ = c.cg.remove()
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
				_ = c.cg.remove()
				return nil, -1, fmt.Errorf("supervise: go pipe: %w", err)
			}
			goR, goW = g[0], g[1]
			files = append(files, uintptr(goR))
			exeArgv = append(exeArgv, "--go-fd", "4")
		}
		exeArgv = append(exeArgv, limitShimArgs(spec.Limits)...)
		exeArgv = append(exeArgv, c.cg.shimArgs()...)
		exeArgv = append(exeArgv, "--", path)
		exeArgv = append(exeArgv, argv...)
		// The shim catches its parent-death signal (see
		// shimParentDeathSignal) to kill the job's tree first.
		sys.Pdeathsig = shimParentDeathSignal
		env = shimEnv(env) // GOMAXPROCS=1 for the shim, not the job
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
			_ = c.cg.remove()
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
	if c.cg != nil {
		u := c.cg.usage(res.Signal == syscall.SIGKILL)
		res.PeakMemoryBytes, res.OOMKilled = u.peak, u.oomKilled
		if err := c.cg.remove(); err != nil {
			c.log.Warn().Err(err).Msg("supervise: cannot remove the run's cgroup")
		}
	}

	c.mu.Lock()
	c.result = res
	if c.timer != nil {
		c.timer.Stop()
	}
	c.finished.Store(true)
	c.mu.Unlock()
	c.log.Debug().Int("child_pid", c.pid).Int("exit", res.ExitCode).Dur("duration_ms", res.Duration).Msg("supervise: done")
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
