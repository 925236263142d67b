package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/cronguard/cronguard/supervise"
)

func addLimitFlags(f *pflag.FlagSet, o *runOptions) {
	f.StringVar(&o.nice, "nice", "", "run CMD at this nice value, -20..19 (absolute; the whole tree inherits it)")
	f.StringVar(&o.ionice, "ionice", "", "run CMD in this I/O class: realtime|best-effort[:LEVEL 0-7] or idle")
	f.StringArrayVar(&o.rlimits, "rlimit", nil, "NAME=SOFT[:HARD] resource limit for CMD's tree (repeatable; nofile, nproc, as, core, cpu, fsize, memlock, stack, ...; a value may be unlimited)")
	f.StringVar(&o.memoryMax, "memory-max", "", "memory limit of CMD's tree (512M, 2G) in a cgroup of the run; beyond it the OOM killer acts (stop reason oom)")
	f.StringVar(&o.cpuMax, "cpu-max", "", "CPU bandwidth of CMD's tree in percent of one CPU (50%, 200%) in a cgroup of the run")
}

// parseLimits reads the limit flags and checks that this host can enforce
// every one of them: a limit it cannot enforce is an error (exit 125, one
// line) before anything starts, never a silent no-op.
func (e *runEnv) parseLimits() error {
	o := e.o
	l := &supervise.Limits{}
	any := false
	if o.nice != "" {
		n, err := supervise.ParseNice(o.nice)
		if err != nil {
			return fmt.Errorf("--nice %v", err)
		}
		l.Nice, any = &n, true
	}
	if o.ionice != "" {
		p, err := supervise.ParseIOnice(o.ionice)
		if err != nil {
			return fmt.Errorf("--ionice %v", err)
		}
		l.IOPrio, any = &p, true
	}
	seen := map[string]bool{}
	for _, r := range o.rlimits {
		rl, err := supervise.ParseRlimit(r)
		if err != nil {
			return fmt.Errorf("--rlimit %v", err)
		}
		if seen[rl.Name] {
			return fmt.Errorf("--rlimit %s is given twice", rl.Name)
		}
		seen[rl.Name] = true
		l.Rlimits, any = append(l.Rlimits, rl), true
	}
	if o.memoryMax != "" {
		n, err := supervise.ParseSize(o.memoryMax)
		if err == nil && n < 1<<20 {
			err = fmt.Errorf("%q: want at least 1M", o.memoryMax)
		}
		if err != nil {
			return fmt.Errorf("--memory-max %v", err)
		}
		l.MemoryMax, any = n, true
	}
	if o.cpuMax != "" {
		v, err := supervise.ParseCPUMax(o.cpuMax)
		if err != nil {
			return fmt.Errorf("--cpu-max %v", err)
		}
		l.CPUMax, any = v, true
	}
	if !any {
		return nil
	}
	name := strings.ReplaceAll(e.lockName, "/", "_")
	if len(name) > 200 {
		name = name[:200] // a cgroup is a directory: 255 bytes at most
	}
	l.CgroupName = name + "-" + e.runID
	if err := supervise.CheckLimits(l); err != nil {
		return err
	}
	e.limits = l
	return nil
}

// profileOf is the run's profile: peak memory from the run's cgroup where
// it had one (the whole tree at once), else the largest single process's
// (rusage), and the tree's user and system CPU.
func profileOf(res supervise.Result) runProfile {
	p := runProfile{MaxRSSKB: res.MaxRSSKB, UserCPUMS: res.UserCPU.Milliseconds(), SysCPUMS: res.SysCPU.Milliseconds()}
	switch {
	case res.PeakMemoryBytes > 0:
		p.PeakMemoryKB, p.PeakMemoryFrom = res.PeakMemoryBytes/1024, "cgroup"
	case res.MaxRSSKB > 0:
		p.PeakMemoryKB, p.PeakMemoryFrom = res.MaxRSSKB, "rusage"
	}
	return p
}
