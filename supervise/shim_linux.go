//go:build linux

package supervise

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// shimParentDeathSignal is the shim's parent-death signal. It must be one
// the shim catches, not SIGKILL: on its parent's death the shim still has
// to kill the job's group and the descendants that left it. It is not
// SIGTERM either, which cronguard and others send to the whole group to
// stop the job and which the shim must survive to clean up and report.
// SIGUSR2 is rarely aimed at a process group; if a job does send it to
// its group, the shim sees that getppid() is unchanged and ignores it.
const shimParentDeathSignal = syscall.SIGUSR2

// shimCaught are the signals the shim must catch to survive. Signals aimed
// at the job's group (by cronguard, an operator, or the job itself with
// `kill 0`) also hit the shim, which must outlive the command to clean up
// and report. They are caught (signal.Notify) and drained, never set to
// SIG_IGN: an ignored disposition would be inherited across exec by the
// command, a caught one is reset to the default.
//
// The list is short on purpose: each signal.Notify costs a round trip to
// the runtime's signal-mask thread (about 0.1 ms each on the test VM,
// 1.5-2.7 ms for 16 signals, most of the shim's cost). Without Notify the Go
// runtime already ignores SIGUSR1, SIGPIPE (off stdout/stderr), SIGALRM,
// SIGXCPU, SIGXFSZ, SIGVTALRM, SIGIO and SIGPWR while keeping them
// "caught" (so the command gets the default), and lets SIGTSTP, SIGTTIN and
// SIGTTOU stop it (a SIGCONT resumes it; Stop sends one). Only the
// terminating ones need catching, plus the parent-death signal to act on.
var shimCaught = []os.Signal{
	shimParentDeathSignal,
	syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT,
}

// shimKillRound is the pause between two SIGKILL passes over the job's
// tree while the shim waits for it to disappear. Each pass walks /proc; a
// process forked after a walk is caught by the next one. Shorter burns CPU
// on a busy box; longer lets a forking tree live longer.
const shimKillRound = 20 * time.Millisecond

type shimConfig struct {
	ppid     int
	statusFd int
	goFd     int // with Prepare: wait here for "go" and more environment
	grace    time.Duration
	path     string
	argv     []string
	// Limits, applied around the fork of the command (applyLimits).
	nice       *int
	ioprio     int // ioprio_set value; 0: unchanged
	rlimits    []Rlimit
	cgroups    []string // the run's cgroup dirs, joined for the fork
	cgroupHome []string // where the shim goes back to, one per cgroup
}

func parseShimArgs(args []string) (shimConfig, error) {
	cfg := shimConfig{statusFd: -1, goFd: -1, grace: DefaultLeftoverGrace}
	if !IsShim(args) {
		return cfg, errors.New("not a shim invocation")
	}
	i := 1
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		if i+1 >= len(args) {
			return cfg, fmt.Errorf("%s needs a value", a)
		}
		v := args[i+1]
		i++
		var err error
		switch a {
		case "--ppid":
			cfg.ppid, err = strconv.Atoi(v)
		case "--status-fd":
			cfg.statusFd, err = strconv.Atoi(v)
		case "--go-fd":
			cfg.goFd, err = strconv.Atoi(v)
		case "--grace":
			cfg.grace, err = time.ParseDuration(v)
		case "--nice":
			var n int
			n, err = strconv.Atoi(v)
			cfg.nice = &n
		case "--ioprio":
			cfg.ioprio, err = strconv.Atoi(v)
		case "--rlimit":
			var r Rlimit
			r, err = parseShimRlimit(v)
			cfg.rlimits = append(cfg.rlimits, r)
		case "--cgroup":
			cfg.cgroups = append(cfg.cgroups, v)
		case "--cgroup-home":
			cfg.cgroupHome = append(cfg.cgroupHome, v)
		default:
			return cfg, fmt.Errorf("unknown shim flag %q", a)
		}
		if err != nil {
			return cfg, fmt.Errorf("%s %q: %v", a, v, err)
		}
	}
	if len(cfg.cgroups) != len(cfg.cgroupHome) {
		return cfg, errors.New("--cgroup and --cgroup-home come in pairs")
	}
	if i >= len(args) {
		return cfg, errors.New("missing -- PATH ARGV0 ARGS...")
	}
	cfg.path = args[i]
	cfg.argv = args[i+1:]
	if len(cfg.argv) == 0 {
		cfg.argv = []string{cfg.path}
	}
	return cfg, nil
}

// shim is the state of the shim process.
type shim struct {
	self     int
	ppid     int
	statusFd int
	// mu is held while a pass signals the tree and while a child is
	// reaped, so a pid read from /proc cannot be freed and reused by an
	// unrelated process before the signal is sent.
	mu         sync.Mutex
	killOnce   sync.Once
	parentGone atomic.Bool
	finished   atomic.Bool
}

// RunShim is the shim's main; args is os.Args[1:] (see IsShim). It returns
// the exit code to pass to os.Exit. If the command died of signal N, it
// does not return: it kills itself with N so that its parent sees the same
// wait status (and it returns 128+N only if that fails).
//
// Status protocol: with --status-fd N, the shim writes "S <wait status>\n"
// as soon as the command is reaped and "C <utime µs> <stime µs> <maxrss
// KB>\n" (the rusage of everything it reaped) once no process of the job is
// left. A parent that reads no C line must assume leftovers.
func RunShim(args []string) int {
	// The command is forked from this goroutine's thread with a
	// parent-death SIGKILL, which Linux ties to the forking thread: keep
	// it (never unlocked; the shim ends with os.Exit or a signal).
	runtime.LockOSThread()
	if len(args) > 1 && args[1] == stageArg {
		return runStage(args)
	}

	// Signals first, before anything can go wrong: from here on the
	// parent-death signal is caught, not lost.
	sigc := make(chan os.Signal, 64)
	caught := make([]os.Signal, 0, len(shimCaught))
	for _, s := range shimCaught {
		// Keep an inherited SIG_IGN (nohup) for the command, as a
		// direct exec from Go would (the runtime keeps it only for
		// these two). It is inherited by the command and protects us.
		if (s == syscall.SIGHUP || s == syscall.SIGINT) && signal.Ignored(s) {
			continue
		}
		caught = append(caught, s)
	}
	signal.Notify(sigc, caught...)

	cfg, err := parseShimArgs(args)
	if err != nil {
		shimSay(fmt.Sprintf("cronguard shim: %v\n", err))
		return ExitShimFailure
	}
	if cfg.ppid > 0 && unix.Getppid() != cfg.ppid {
		// The parent died before the handler was in place: its
		// parent-death signal may have been lost. Never start the job.
		// A prepared shim is usually here because cronguard skipped
		// (lock busy), aborted it and exited before the shim had
		// started: the go pipe, at EOF now, says so, and a skip is
		// silent.
		if cfg.goFd >= 0 {
			if _, v := awaitGo(cfg.goFd); v == goAborted {
				return 0
			}
		}
		return parentDied()
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		shimSay(fmt.Sprintf("cronguard shim: PR_SET_CHILD_SUBREAPER: %v\n", err))
		return ExitShimFailure
	}
	if cfg.statusFd >= 0 {
		// The command must not inherit the status pipe: its write end
		// would keep the parent's read from seeing EOF.
		unix.CloseOnExec(cfg.statusFd)
	}
	// Name it in ps/top ("exe" when run as /proc/self/exe).
	name := []byte("cronguard-shim\x00")
	_ = unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&name[0])), 0, 0, 0)

	sh := &shim{self: os.Getpid(), ppid: cfg.ppid, statusFd: cfg.statusFd}
	go sh.watchSignals(sigc)

	// The command runs in our process group (no Setpgid), so a signal to
	// the group reaches it; it inherits our stdio fds, environment and
	// working directory unchanged. Its own parent-death SIGKILL kills it
	// if the shim itself is SIGKILLed (cronguard then sweeps the rest).
	env := jobEnv(syscall.Environ())
	if cfg.goFd >= 0 {
		extra, v := awaitGo(cfg.goFd)
		switch {
		case v == goAborted:
			// The lock was busy, or cronguard refused to start the
			// job and says why itself: exit without a word.
			sh.reportUsage()
			return 0
		case v != goStart || sh.parentGone.Load():
			// cronguard died first: the command never starts.
			sh.reportUsage()
			return parentDied()
		}
		env = append(env, extra...)
	}
	exe, argv := cfg.path, cfg.argv
	if cfg.hasLimits() {
		exe, argv = "/proc/self/exe", cfg.stageArgs()
	}
	pid, err := syscall.ForkExec(exe, argv, &syscall.ProcAttr{
		Env:   env,
		Files: []uintptr{0, 1, 2},
		Sys:   &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	})
	if err != nil {
		code := execFailureCode(err)
		shimSay(fmt.Sprintf("cronguard: %s: %v\n", cfg.path, err))
		sh.report(fmt.Sprintf("S %d\n", code<<8))
		sh.reportUsage()
		return code
	}
	if sh.parentGone.Load() {
		sh.startKill()
	}
	ws := sh.reapAll(pid, cfg.grace)
	sh.reportUsage()
	if sh.parentGone.Load() {
		// Nobody else will remove the run's cgroup (the job is dead).
		for i := len(cfg.cgroups) - 1; i >= 0; i-- {
			_ = unix.Rmdir(cfg.cgroups[i])
		}
	}
	switch {
	case ws.Exited():
		return ws.ExitStatus()
	case ws.Signaled():
		dieOf(ws.Signal())
		return 128 + int(ws.Signal())
	}
	return ExitShimFailure
}

// goMessage starts what Pending.Go writes on the go pipe; environment
// entries follow, each ended by a NUL. abortMessage is what Pending.Abort
// writes. EOF with neither means that cronguard died (its death closed the
// pipe): the command must not start either way.
const (
	goMessage    = "GO\x00"
	abortMessage = "ABORT\x00"
)

// goVerdict is what the go pipe said.
type goVerdict int

const (
	goNone    goVerdict = iota // EOF and nothing else: cronguard died
	goStart                    // Pending.Go: run the command
	goAborted                  // Pending.Abort: exit quietly
)

// parentDied reports, on the job's stderr, that the job did not run because
// cronguard died before the go. A live cronguard never gets here: every
// path of it that does not start the job aborts the shim first (silently:
// a skip writes nothing, a refused start prints cronguard's own error).
// So this line appears only after a crash, which printed its own error,
// or a SIGKILL (the OOM killer), which left no other trace for cron to
// mail. (A shim whose parent dies before its signal handlers are in place
// is killed outright by its parent-death signal, silently.)
func parentDied() int {
	shimSay("cronguard shim: cronguard exited before the job started\n")
	return ExitShimFailure
}

// awaitGo reads the go pipe to EOF and returns the extra environment, and
// what cronguard said.
func awaitGo(fd int) ([]string, goVerdict) {
	f := os.NewFile(uintptr(fd), "go-pipe")
	defer f.Close()
	var buf []byte
	chunk := make([]byte, 4096)
	for {
		n, err := f.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if err != nil {
			break
		}
	}
	if string(buf) == abortMessage {
		return nil, goAborted
	}
	msg, ok := strings.CutPrefix(string(buf), goMessage)
	if !ok {
		return nil, goNone
	}
	var extra []string
	for _, kv := range strings.Split(msg, "\x00") {
		if kv != "" {
			extra = append(extra, kv)
		}
	}
	return extra, goStart
}

// watchSignals drains caught signals. Only the parent-death signal, and
// only when the parent is really gone (the shim was reparented), acts.
func (sh *shim) watchSignals(c <-chan os.Signal) {
	for s := range c {
		if s == shimParentDeathSignal && unix.Getppid() != sh.ppid {
			sh.parentGone.Store(true)
			sh.startKill()
		}
	}
}

// reapAll reaps children until there are none left and returns the
// command's wait status. Once the command has exited, leftovers get
// SIGTERM, and SIGKILL after grace.
func (sh *shim) reapAll(cmdPid int, grace time.Duration) (cmd unix.WaitStatus) {
	cmdDone, reported := false, false
	for {
		// Block until some child is a zombie, without reaping it, so
		// that the reap below happens under mu.
		var si unix.Siginfo
		err := unix.Waitid(unix.P_ALL, 0, &si, unix.WEXITED|unix.WNOWAIT, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil { // ECHILD: nothing left
			break
		}
		more := true
		sh.mu.Lock()
		for {
			var ws unix.WaitStatus
			wpid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if err == unix.EINTR {
				continue
			}
			if wpid <= 0 {
				more = err == nil // 0: children remain, none exited
				break
			}
			if wpid == cmdPid {
				cmd, cmdDone = ws, true
			}
		}
		sh.mu.Unlock()
		if cmdDone && !reported {
			reported = true
			sh.report("S " + strconv.FormatUint(uint64(cmd), 10) + "\n")
			if more {
				sh.terminateLeftovers(grace)
			}
		}
		if !more {
			break
		}
	}
	sh.finished.Store(true)
	return cmd
}

// terminateLeftovers sends SIGTERM (and SIGCONT, so a stopped process can
// act on it) to what is left of the job, and SIGKILL after grace.
func (sh *shim) terminateLeftovers(grace time.Duration) {
	if grace <= 0 || sh.parentGone.Load() {
		sh.startKill()
		return
	}
	sh.mu.Lock()
	sh.signalTree(syscall.SIGTERM)
	sh.signalTree(syscall.SIGCONT)
	sh.mu.Unlock()
	time.AfterFunc(grace, sh.startKill)
}

// startKill starts SIGKILL passes over the job's tree until reapAll has
// seen the last child go.
func (sh *shim) startKill() {
	sh.killOnce.Do(func() {
		go func() {
			for !sh.finished.Load() {
				sh.mu.Lock()
				sh.signalTree(syscall.SIGKILL)
				sh.mu.Unlock()
				time.Sleep(shimKillRound)
			}
		}()
	})
}

// signalTree signals every process of the job: the members of our process
// group and every descendant of ours (found through PPid chains, which
// catches those that called setsid), but not the shim itself. Caller holds
// sh.mu.
func (sh *shim) signalTree(sig syscall.Signal) {
	skipPgid := 0
	if sig != syscall.SIGKILL {
		// One atomic signal to the group; the shim catches it.
		if unix.Kill(-sh.self, sig) == nil {
			skipPgid = sh.self
		}
	}
	procs := allProcs()
	signalProcs(treeOf(procs, sh.self, []int{sh.self}, sh.self), sig, skipPgid)
}

func (sh *shim) report(line string) {
	if sh.statusFd < 0 {
		return
	}
	_, _ = unix.Write(sh.statusFd, []byte(line))
}

// reportUsage writes the C line: the rusage of every process the shim has
// reaped, that is of the job without the shim's own overhead.
func (sh *shim) reportUsage() {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_CHILDREN, &ru)
	sh.report(fmt.Sprintf("C %d %d %d\n",
		ru.Utime.Sec*1e6+int64(ru.Utime.Usec), ru.Stime.Sec*1e6+int64(ru.Stime.Usec), int64(ru.Maxrss)))
}

// dieOf kills the shim with sig so that its parent sees the command's wait
// status. The Go runtime's handler (installed by signal.Notify or by
// default) is bypassed with a raw rt_sigaction to SIG_DFL, and core dumps
// are disabled: the command may have dumped core, the shim must not.
func dieOf(sig syscall.Signal) {
	_ = unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{})
	_ = unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	// struct sigaction with SIG_DFL (0), no flags, empty mask: all zero
	// whatever the architecture's field order.
	var act [4]uint64
	unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0)
	set := uint64(1) << (uint(sig) - 1)
	unix.RawSyscall6(unix.SYS_RT_SIGPROCMASK, 1 /* SIG_UNBLOCK */, uintptr(unsafe.Pointer(&set)), 0, 8, 0, 0)
	// This thread (locked) has sig unblocked: deliver it here.
	_ = unix.Tgkill(unix.Getpid(), unix.Gettid(), sig)
	time.Sleep(10 * time.Millisecond) // only reached if the signal did not kill us
}

// shimSay writes msg on the shim's stderr, which is the job's and cron's.
// If that pipe is closed, the write must fail rather than kill the shim by
// SIGPIPE (Go's default for fds 1 and 2), which would hide the job's exit
// status from cronguard. SIGPIPE is caught here, not at start-up: each
// signal.Notify costs the shim a round trip (see shimCaught), and only
// these rare paths write, after which no command is started (so its
// disposition, reset by exec anyway, does not matter).
func shimSay(msg string) {
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	_, _ = os.Stderr.WriteString(msg)
}
