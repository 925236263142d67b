// Package supervise starts a cron job and kills its whole process tree
// reliably and on time.
//
// The job does not run as a direct child of cronguard. cronguard starts a
// tiny shim, in a new process group and with a parent-death signal; the
// shim is a child subreaper, starts the command in the same group and
// reports its status. There are two shims speaking one protocol (below):
// cshim/cronguard-shim.c, a static C program, which cronguard uses when it
// finds it (a Go start-up per run costs more than the rest of the shim's
// work), and RunShim, cronguard's own binary re-exec'd (WithShim's default).
// The tests run every shim test against both. This closes the gaps
// that a bare parent-death signal leaves open:
//
//   - Pdeathsig reaches only the direct child. When cronguard is SIGKILLed,
//     the shim gets its parent-death signal and SIGKILLs the job's group and
//     every descendant it finds under itself in /proc, so `sh -c 'x & wait'`
//     or a pipeline does not live on as orphans.
//   - A descendant that calls setsid leaves the group; since the shim is a
//     subreaper, such a process stays in the shim's subtree (orphans are
//     reparented to the shim, not to init) and a /proc walk finds it.
//   - Leftovers of a job whose command has exited (`sh -c 'x &'`) are
//     terminated before the run counts as finished, so the lock is never
//     released while part of the job still runs.
//
// The package never talks to ZooKeeper: the caller decides when to stop
// (Child.Stop) and learns when the whole tree is dead (Child.Done).
//
// # Shim protocol
//
// The shim is started as
//
//	argv: cronguard-shim __cronguard_shim --ppid PID --status-fd 3 --grace D -- PATH ARGV0 ARGS...
//
// (argv[0] is ignored) with Setpgid (it leads the job's process group:
// Child.Pid is the pgid) and a parent-death SIGUSR2. PID is cronguard's pid: the shim exits at once
// (code 125) if getppid() differs, and on SIGUSR2 it acts only if getppid()
// changed. fd 3 is the write end of a pipe on which the shim reports "S
// <wait status>" when the command is reaped and "C <utime µs> <stime µs>
// <maxrss KB>" once none of the job's processes is left; the command does
// not inherit it. With --go-fd 4 (Prepare), the shim waits for fd 4's EOF
// before it starts the command: "GO\x00" followed by NUL-ended KEY=VALUE
// entries starts it, "ABORT\x00" makes the shim exit 0 without a word (a
// skip is silent), and EOF alone means cronguard died: the shim says so on
// stderr and exits 125. The shim's environment, working directory and fds 0-2
// are the command's, but for GOMAXPROCS: the shim runs with GOMAXPROCS=1
// and the command's own value, if any, in CRONGUARD_JOB_GOMAXPROCS, which
// the shim puts back. --nice N, --ioprio V, --rlimit RES:CUR:MAX and
// --cgroup DIR --cgroup-home DIR (in pairs) are limits for the command
// only; one that cannot be applied ends it with 125 and a line on stderr.
// The shim exits with the command's code, dies of the command's signal, or
// exits 127/126 if the command cannot be executed.
//
// # Caller duties and limits
//
//   - Call SetSubreaper once at start-up, and dispatch IsShim/RunShim
//     first thing in main.
//   - Orphans reparented to the caller (only if a shim dies abnormally, or
//     with WithoutShim) are told apart from the caller's other children by
//     process group (not the caller's own), start time (after Start) and
//     pid (not another Child's root). Children started by other code in
//     their own process group during a run could be mistaken for the job's.
//   - Signals go to pids read from /proc; Linux hands out pids cyclically,
//     so a pid freed and reused within the microseconds between the read and
//     the kill would need a full wrap of pid_max. The shim never reaps its
//     children during a kill pass.
//   - Timers use Go's monotonic clock, which stops during system suspend; a
//     fencing caller working on CLOCK_BOOTTIME should call Stop with a
//     deadline already past once it sees the time has come.
//   - A process stuck in uninterruptible sleep keeps Done open: by design,
//     the lock must not be released while any part of the job exists.
package supervise

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/rs/zerolog"
)

// ShimArg is the first argument (after argv[0]) of a shim invocation; see
// "Shim protocol" above.
const ShimArg = "__cronguard_shim"

// Exit codes, as a shell reports them.
const (
	ExitNotExecutable = 126 // the command exists but cannot be executed
	ExitNotFound      = 127 // the command does not exist
	// ExitShimFailure is what the shim exits with when it cannot do its job
	// at all (bad arguments, parent already gone): cronguard's own failure.
	ExitShimFailure = 125
)

// DefaultLeftoverGrace is used when Spec.LeftoverGrace is zero: how long
// processes that outlive the command (`sh -c 'x &'`) get between SIGTERM and
// SIGKILL. Longer lets a leftover flush its state on SIGTERM; shorter
// releases the lock (and lets the next run start) sooner. Leftovers are a
// bug of the job, so this is short.
const DefaultLeftoverGrace = 2 * time.Second

// Spec describes the command to run.
type Spec struct {
	Path string   // resolved executable path (see Resolve)
	Args []string // argv including argv[0]; empty means {Path}
	Env  []string // nil means os.Environ()
	Dir  string   // working directory; empty means the current one
	// Stdin, Stdout, Stderr are passed to the command unchanged (the same
	// open files, no pipes), so cron's MAILTO sees the job's output. nil
	// means os.Stdin, os.Stdout, os.Stderr.
	Stdin, Stdout, Stderr *os.File
	// LeftoverGrace is how long processes left over after the command
	// exited get between SIGTERM and SIGKILL. Zero means
	// DefaultLeftoverGrace; negative means SIGKILL at once.
	LeftoverGrace time.Duration
	// Limits are the job's resource limits (see Limits); nil: none. They
	// need the shim.
	Limits *Limits
}

// Result is the outcome of a run; valid once Child.Done is closed.
type Result struct {
	// ExitCode is the command's exit code; 128+N if it died of signal N;
	// 126/127 if it could not be executed.
	ExitCode int
	Signal   syscall.Signal // 0 unless the command died of a signal
	// MaxRSSKB, UserCPU and SysCPU describe the job: every process the
	// shim reaped (the command and its leftovers). If the shim could not
	// report (it was killed), they are the shim's own wait4 rusage, which
	// covers what it had reaped.
	MaxRSSKB        int64
	UserCPU, SysCPU time.Duration
	// PeakMemoryBytes is the run's cgroup's memory high-water mark (v2
	// memory.peak, v1 memory.max_usage_in_bytes: the whole tree at once,
	// page cache included); 0 when the run had no memory cgroup.
	PeakMemoryBytes int64
	// OOMKilled: the kernel's OOM killer killed a process of the job in
	// its cgroup (v2 memory.events oom_kill, v1 memory.oom_control
	// oom_kill; see runCgroup.usage).
	OOMKilled bool
	// Duration runs from Start until the shim was reaped, which is after
	// the command and its leftovers exited.
	Duration time.Duration
}

type options struct {
	log    zerolog.Logger
	shim   string
	noShim bool
}

// Option configures Start.
type Option func(*options)

// WithLogger sets the logger (default: none).
func WithLogger(l zerolog.Logger) Option { return func(o *options) { o.log = l } }

// WithShim sets the executable run as the shim; it must call RunShim when
// IsShim(os.Args[1:]). Default: /proc/self/exe, which is the running binary
// even if the file on disk was replaced by an upgrade since.
func WithShim(exe string) Option { return func(o *options) { o.shim = exe } }

// WithoutShim starts the command directly, in its own process group with a
// parent-death SIGKILL. Grandchildren then survive a SIGKILL of the caller;
// it exists to measure what the shim costs.
func WithoutShim() Option { return func(o *options) { o.noShim = true } }

// IsShim reports whether args (os.Args[1:]) ask this binary to act as the
// shim. It is cheap: call it first thing in main.
func IsShim(args []string) bool { return len(args) > 0 && args[0] == ShimArg }

// Resolve finds cmd the way a shell does (exec.LookPath) and classifies a
// failure like a shell: exit code 127 when cmd is not found, 126 when it
// exists but is not executable (permissions, a directory).
func Resolve(cmd string) (path string, exitCode int, err error) {
	if cmd == "" {
		return "", ExitNotFound, errors.New("empty command")
	}
	path, err = exec.LookPath(cmd)
	if errors.Is(err, exec.ErrDot) {
		// A shell runs a command found through a relative PATH entry
		// such as "."; so do we (os/exec refuses by default).
		err = nil
	}
	if err != nil {
		return "", execFailureCode(err), err
	}
	return path, 0, nil
}

// execFailureCode maps an error from looking up or executing a command to a
// shell's exit code.
func execFailureCode(err error) int {
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		return ExitNotFound
	}
	return ExitNotExecutable
}

// exitCodeFor returns the shell-style exit code for a wait status.
func exitCodeFor(exited bool, code int, signaled bool, sig syscall.Signal) (int, syscall.Signal) {
	switch {
	case exited:
		return code, 0
	case signaled:
		return 128 + int(sig), sig
	}
	return ExitShimFailure, 0
}
