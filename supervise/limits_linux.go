//go:build linux

package supervise

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

const ioprioWhoProcess = 1 // IOPRIO_WHO_PROCESS

// CheckLimits tells, before anything starts, whether every limit can be
// enforced on this host by this process: nice and I/O priority are tried
// on a throwaway thread, rlimits are checked against our own (raising a
// hard limit needs CAP_SYS_RESOURCE), and the cgroup controllers must be
// mounted. What it cannot foresee (a cgroup write refused) fails Prepare
// or Start, still before the job starts.
func CheckLimits(l *Limits) error {
	if l == nil {
		return nil
	}
	if l.Nice != nil {
		n := *l.Nice
		if err := onThrowawayThread(func() error { return unix.Setpriority(unix.PRIO_PROCESS, 0, n) }); err != nil {
			return fmt.Errorf("--nice %d cannot be applied: %v", n, explainPerm(err, "CAP_SYS_NICE or RLIMIT_NICE"))
		}
	}
	if p := l.IOPrio; p != nil {
		err := onThrowawayThread(func() error { return ioprioSet(p.value()) })
		if err != nil {
			return fmt.Errorf("--ionice %s cannot be applied: %v", p, explainPerm(err, "CAP_SYS_ADMIN (realtime class)"))
		}
	}
	for _, r := range l.Rlimits {
		var cur syscall.Rlimit
		if err := syscall.Getrlimit(r.Resource, &cur); err != nil {
			return fmt.Errorf("--rlimit %s: %v", r.Name, err)
		}
		if r.Max > cur.Max && !hasCap(unix.CAP_SYS_RESOURCE) {
			return fmt.Errorf("--rlimit %s: the hard limit %s is above ours (%s) and raising it needs CAP_SYS_RESOURCE",
				r.Name, fmtRlim(r.Max), fmtRlim(cur.Max))
		}
		if r.Resource == unix.RLIMIT_NOFILE {
			if b, err := os.ReadFile("/proc/sys/fs/nr_open"); err == nil {
				if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil && r.Max > n {
					return fmt.Errorf("--rlimit nofile: %s is above the kernel's fs.nr_open (%d)", fmtRlim(r.Max), n)
				}
			}
		}
	}
	return checkCgroup(l)
}

func (p IOPrio) String() string {
	name := map[int]string{1: "realtime", 2: "best-effort", 3: "idle"}[p.Class]
	if p.Class == 3 {
		return name
	}
	return name + ":" + strconv.Itoa(p.Level)
}

func fmtRlim(v uint64) string {
	if v == RlimInfinity {
		return "unlimited"
	}
	return strconv.FormatUint(v, 10)
}

func explainPerm(err error, needs string) string {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return err.Error() + " (needs " + needs + ")"
	}
	return err.Error()
}

// onThrowawayThread runs f on a thread of its own that ends with it (a
// goroutine that exits locked takes its thread along), so a per-thread
// setting tried by f never reaches the rest of the process.
func onThrowawayThread(f func() error) error {
	ch := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		ch <- f()
	}()
	return <-ch
}

func ioprioSet(v int) error {
	_, _, e := unix.Syscall(unix.SYS_IOPRIO_SET, ioprioWhoProcess, 0, uintptr(v))
	if e != 0 {
		return e
	}
	return nil
}

func hasCap(c int) bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return os.Geteuid() == 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && n&(1<<uint(c)) != 0
		}
	}
	return false
}

// limitShimArgs are the shim's flags for nice, ioprio and rlimits.
func limitShimArgs(l *Limits) []string {
	if l == nil {
		return nil
	}
	var a []string
	if l.Nice != nil {
		a = append(a, "--nice", strconv.Itoa(*l.Nice))
	}
	if l.IOPrio != nil {
		a = append(a, "--ioprio", strconv.Itoa(l.IOPrio.value()))
	}
	for _, r := range l.Rlimits {
		a = append(a, "--rlimit", fmt.Sprintf("%d:%d:%d", r.Resource, r.Cur, r.Max))
	}
	return a
}

func parseShimRlimit(v string) (Rlimit, error) {
	f := strings.Split(v, ":")
	if len(f) != 3 {
		return Rlimit{}, errors.New("want RES:CUR:MAX")
	}
	res, err1 := strconv.Atoi(f[0])
	cur, err2 := strconv.ParseUint(f[1], 10, 64)
	max, err3 := strconv.ParseUint(f[2], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return Rlimit{}, err
	}
	return Rlimit{Name: f[0], Resource: res, Cur: cur, Max: max}, nil
}

// applyLimits is the exec stage's side (runStage), on the locked thread
// that then execs the command: the thread's nice value and I/O priority
// (per-thread in Linux; the exec'ing thread's survive the exec), the
// process's rlimits and its cgroups. The shim itself never takes them: it
// keeps the file descriptors and address space its kill passes need (a
// lowered hard limit cannot be raised back without CAP_SYS_RESOURCE), and
// the OOM killer never picks it.
func applyLimits(cfg shimConfig) error {
	if cfg.nice != nil {
		if err := unix.Setpriority(unix.PRIO_PROCESS, 0, *cfg.nice); err != nil {
			return fmt.Errorf("--nice %d: %v", *cfg.nice, err)
		}
	}
	if cfg.ioprio != 0 {
		if err := ioprioSet(cfg.ioprio); err != nil {
			return fmt.Errorf("--ionice: ioprio_set: %v", err)
		}
	}
	self := strconv.Itoa(os.Getpid())
	for _, dir := range cfg.cgroups {
		if err := writeCgroupFile(dir+"/cgroup.procs", self); err != nil {
			return fmt.Errorf("joining the run's cgroup: %v", err)
		}
	}
	// Last: syscall.Setrlimit (not x/sys's) also tells the runtime not to
	// put back its own RLIMIT_NOFILE at exec.
	for _, r := range cfg.rlimits {
		if err := syscall.Setrlimit(r.Resource, &syscall.Rlimit{Cur: r.Cur, Max: r.Max}); err != nil {
			return fmt.Errorf("--rlimit %s=%s:%s: %v", rlimitName(r.Resource), fmtRlim(r.Cur), fmtRlim(r.Max), err)
		}
	}
	return nil
}

func rlimitName(res int) string {
	for n, v := range rlimitNames {
		if v.res == res {
			return n
		}
	}
	return strconv.Itoa(res)
}

// hasLimits reports whether the shim must start the command through the
// exec stage.
func (cfg shimConfig) hasLimits() bool {
	return cfg.nice != nil || cfg.ioprio != 0 || len(cfg.rlimits) > 0 || len(cfg.cgroups) > 0
}

// stageArgs is the exec stage's command line: the shim's binary again,
// with the limits, the command's path and argv.
func (cfg shimConfig) stageArgs() []string {
	a := []string{"cronguard-exec", ShimArg, stageArg}
	if cfg.nice != nil {
		a = append(a, "--nice", strconv.Itoa(*cfg.nice))
	}
	if cfg.ioprio != 0 {
		a = append(a, "--ioprio", strconv.Itoa(cfg.ioprio))
	}
	for _, r := range cfg.rlimits {
		a = append(a, "--rlimit", fmt.Sprintf("%d:%d:%d", r.Resource, r.Cur, r.Max))
	}
	for i := range cfg.cgroups {
		a = append(a, "--cgroup", cfg.cgroups[i], "--cgroup-home", cfg.cgroupHome[i])
	}
	return append(append(a, "--", cfg.path), cfg.argv...)
}

// stageArg, after ShimArg, makes the shim binary the exec stage: a process
// the shim forks instead of the command when there are limits, which
// applies them to itself and execs the command (same pid). A Go process
// cannot set another's limits between fork and exec; this costs one more
// start of the binary, only for runs with limits.
const stageArg = "--exec-stage"

// runStage is the exec stage's main (args as RunShim's). It returns only
// on failure: 125 if a limit could not be applied, 126/127 if the command
// could not be executed, each with one line on stderr.
func runStage(args []string) int {
	runtime.LockOSThread()
	cfg, err := parseShimArgs(append([]string{ShimArg}, args[2:]...))
	if err != nil {
		shimSay(fmt.Sprintf("cronguard exec stage: %v\n", err))
		return ExitShimFailure
	}
	if err := applyLimits(cfg); err != nil {
		shimSay(fmt.Sprintf("cronguard: %v\n", err))
		return ExitShimFailure
	}
	err = syscall.Exec(cfg.path, cfg.argv, syscall.Environ())
	shimSay(fmt.Sprintf("cronguard: %s: %v\n", cfg.path, err))
	return execFailureCode(err)
}
