//go:build linux

// The run's cgroup: made by cronguard before the shim starts (so that a
// limit the host cannot enforce stops the run before the job starts),
// joined by the shim just for the fork of the command (the shim leaves it
// again, so the OOM killer never picks it and its memory is not the job's),
// read (peak memory, OOM kills) and removed once no process of the job is
// left.

package supervise

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// cgroupDir is one directory of the run's cgroup: one on v2, one per
// controller's hierarchy on v1.
type cgroupDir struct {
	path string // the run's cgroup
	home string // where the shim comes from and goes back to
	v2   bool
	mem  bool // holds the memory controller's files
}

// runCgroup is the run's cgroup.
type runCgroup struct {
	dirs []cgroupDir
}

// cgroupMounts is what /proc/self/mountinfo and /proc/self/cgroup say.
type cgroupMounts struct {
	v2      string            // cgroup2 mount point, or ""
	v2Own   string            // our cgroup on v2 ("/..." from 0::)
	v1      map[string]string // controller -> mount point
	v1Own   map[string]string // controller -> our cgroup in it
	v2Ctrls map[string]bool   // controllers the v2 root offers
}

func readCgroupMounts() cgroupMounts {
	m := cgroupMounts{v1: map[string]string{}, v1Own: map[string]string{}, v2Ctrls: map[string]bool{}}
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			pre, post, ok := strings.Cut(line, " - ")
			pf, qf := strings.Fields(pre), strings.Fields(post)
			if !ok || len(pf) < 5 || len(qf) < 3 {
				continue
			}
			mnt := unescapeMount(pf[4])
			switch qf[0] {
			case "cgroup2":
				if m.v2 == "" {
					m.v2 = mnt
				}
			case "cgroup":
				for _, o := range strings.Split(qf[2], ",") {
					if o == "memory" || o == "cpu" {
						m.v1[o] = mnt
					}
				}
			}
		}
	}
	if b, err := os.ReadFile("/proc/self/cgroup"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.SplitN(line, ":", 3)
			if len(f) != 3 {
				continue
			}
			if f[0] == "0" && f[1] == "" {
				m.v2Own = f[2]
			}
			for _, c := range strings.Split(f[1], ",") {
				m.v1Own[c] = f[2]
			}
		}
	}
	if m.v2 != "" {
		if b, err := os.ReadFile(filepath.Join(m.v2, "cgroup.controllers")); err == nil {
			for _, c := range strings.Fields(string(b)) {
				m.v2Ctrls[c] = true
			}
		}
	}
	return m
}

func unescapeMount(s string) string {
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	return r.Replace(s)
}

// where says which hierarchy carries controller c: "v2", "v1" or why
// neither does.
func (m cgroupMounts) where(c string) (string, error) {
	if m.v2Ctrls[c] {
		return "v2", nil
	}
	if _, ok := m.v1[c]; ok {
		if _, ok := m.v1Own[c]; ok {
			return "v1", nil
		}
	}
	switch {
	case m.v2 == "" && len(m.v1) == 0:
		return "", fmt.Errorf("no cgroup file system is mounted")
	case m.v2 != "":
		return "", fmt.Errorf("the cgroup v2 hierarchy at %s does not offer the %s controller and no cgroup v1 %s hierarchy is mounted", m.v2, c, c)
	}
	return "", fmt.Errorf("no cgroup v1 %s hierarchy is mounted and there is no cgroup v2", c)
}

// checkCgroup tells whether the limits' controllers exist, without
// creating anything.
func checkCgroup(l *Limits) error {
	if !l.needsCgroup() {
		return nil
	}
	m := readCgroupMounts()
	if l.MemoryMax > 0 {
		if _, err := m.where("memory"); err != nil {
			return fmt.Errorf("--memory-max cannot be enforced: %v", err)
		}
	}
	if l.CPUMax > 0 {
		if _, err := m.where("cpu"); err != nil {
			return fmt.Errorf("--cpu-max cannot be enforced: %v", err)
		}
	}
	return nil
}

// cgroupBase is the directory under which runs' cgroups are made.
const cgroupBase = "cronguard"

// cpuPeriodUS is the CFS period the CPU bandwidth is expressed in.
const cpuPeriodUS = 100000

// newRunCgroup makes the run's cgroup and sets its limits. On v2 it is
// <mount>/cronguard/NAME (a cgroup that holds processes cannot hand
// controllers to children, so not under our own); on v1 it is
// <hierarchy>/<our cgroup>/cronguard/NAME in the memory and the cpu
// hierarchies, inside whatever limits our own cgroup has.
func newRunCgroup(l *Limits) (*runCgroup, error) {
	if !l.needsCgroup() {
		return nil, nil
	}
	name := l.CgroupName
	if name == "" || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." {
		return nil, fmt.Errorf("bad cgroup name %q", name)
	}
	m := readCgroupMounts()
	cg := &runCgroup{}
	fail := func(err error) (*runCgroup, error) {
		cg.remove()
		return nil, err
	}
	var v2ctrls []string
	var v1 []string
	for _, c := range []struct {
		ctrl string
		on   bool
		flag string
	}{{"memory", l.MemoryMax > 0, "--memory-max"}, {"cpu", l.CPUMax > 0, "--cpu-max"}} {
		if !c.on {
			continue
		}
		w, err := m.where(c.ctrl)
		if err != nil {
			return nil, fmt.Errorf("%s cannot be enforced: %v", c.flag, err)
		}
		if w == "v2" {
			v2ctrls = append(v2ctrls, c.ctrl)
		} else {
			v1 = append(v1, c.ctrl)
		}
	}
	if len(v2ctrls) > 0 {
		base := filepath.Join(m.v2, cgroupBase)
		enable := "+" + strings.Join(v2ctrls, " +")
		if err := writeCgroupFile(filepath.Join(m.v2, "cgroup.subtree_control"), enable); err != nil {
			return fail(fmt.Errorf("cgroup v2: enabling %s for %s's children: %v", strings.Join(v2ctrls, ", "), m.v2, err))
		}
		if err := os.Mkdir(base, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return fail(fmt.Errorf("cgroup v2: %v", err))
		}
		if err := writeCgroupFile(filepath.Join(base, "cgroup.subtree_control"), enable); err != nil {
			return fail(fmt.Errorf("cgroup v2: enabling %s in %s: %v", strings.Join(v2ctrls, ", "), base, err))
		}
		d := cgroupDir{path: filepath.Join(base, name), home: filepath.Join(m.v2, m.v2Own), v2: true}
		if err := os.Mkdir(d.path, 0o755); err != nil {
			return fail(fmt.Errorf("cgroup v2: %v", err))
		}
		d.mem = l.MemoryMax > 0 && contains(v2ctrls, "memory")
		cg.dirs = append(cg.dirs, d)
		if d.mem {
			if err := writeCgroupFile(filepath.Join(d.path, "memory.max"), strconv.FormatInt(l.MemoryMax, 10)); err != nil {
				return fail(fmt.Errorf("--memory-max cannot be enforced: %v", err))
			}
			if _, err := os.Stat(filepath.Join(d.path, "memory.swap.max")); err == nil {
				if err := writeCgroupFile(filepath.Join(d.path, "memory.swap.max"), "0"); err != nil {
					return fail(fmt.Errorf("--memory-max: memory.swap.max: %v", err))
				}
			}
			// Whole-job OOM kills where the kernel has it: a job is one
			// unit, a half-killed pipeline is worse than a dead one.
			_ = writeCgroupFile(filepath.Join(d.path, "memory.oom.group"), "1")
		}
		if l.CPUMax > 0 && contains(v2ctrls, "cpu") {
			quota := int64(l.CPUMax * cpuPeriodUS / 100)
			if err := writeCgroupFile(filepath.Join(d.path, "cpu.max"), fmt.Sprintf("%d %d", quota, cpuPeriodUS)); err != nil {
				return fail(fmt.Errorf("--cpu-max cannot be enforced: %v", err))
			}
		}
	}
	for _, c := range v1 {
		home := filepath.Join(m.v1[c], m.v1Own[c])
		base := filepath.Join(home, cgroupBase)
		if err := os.Mkdir(base, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return fail(fmt.Errorf("cgroup v1 %s: %v", c, err))
		}
		d := cgroupDir{path: filepath.Join(base, name), home: home, mem: c == "memory"}
		if err := os.Mkdir(d.path, 0o755); err != nil {
			return fail(fmt.Errorf("cgroup v1 %s: %v", c, err))
		}
		cg.dirs = append(cg.dirs, d)
		switch c {
		case "memory":
			v := strconv.FormatInt(l.MemoryMax, 10)
			if err := writeCgroupFile(filepath.Join(d.path, "memory.limit_in_bytes"), v); err != nil {
				return fail(fmt.Errorf("--memory-max cannot be enforced: %v", err))
			}
			if _, err := os.Stat(filepath.Join(d.path, "memory.memsw.limit_in_bytes")); err == nil {
				if err := writeCgroupFile(filepath.Join(d.path, "memory.memsw.limit_in_bytes"), v); err != nil {
					return fail(fmt.Errorf("--memory-max: memory.memsw.limit_in_bytes: %v", err))
				}
			}
		case "cpu":
			quota := int64(l.CPUMax * cpuPeriodUS / 100)
			if err := writeCgroupFile(filepath.Join(d.path, "cpu.cfs_period_us"), strconv.Itoa(cpuPeriodUS)); err != nil {
				return fail(fmt.Errorf("--cpu-max cannot be enforced: %v", err))
			}
			if err := writeCgroupFile(filepath.Join(d.path, "cpu.cfs_quota_us"), strconv.FormatInt(quota, 10)); err != nil {
				return fail(fmt.Errorf("--cpu-max cannot be enforced: %v", err))
			}
		}
	}
	return cg, nil
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func writeCgroupFile(path, v string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(v)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %q to %s: %w", v, path, err)
	}
	return nil
}

// shimArgs are the shim's flags for joining and leaving the cgroup.
func (cg *runCgroup) shimArgs() []string {
	var a []string
	if cg == nil {
		return nil
	}
	for _, d := range cg.dirs {
		a = append(a, "--cgroup", d.path, "--cgroup-home", d.home)
	}
	return a
}

// cgroupUsage is what the run's cgroup says once the job is over.
type cgroupUsage struct {
	peak      int64 // bytes; 0: unknown
	oomKilled bool
}

// usage reads peak memory and OOM kills. killedBySIGKILL is only used
// where the kernel does not count OOM kills (v1 without oom_kill in
// memory.oom_control): there, a job that hit its limit (failcnt > 0) and
// died of SIGKILL counts as killed by the OOM killer.
func (cg *runCgroup) usage(killedBySIGKILL bool) cgroupUsage {
	var u cgroupUsage
	if cg == nil {
		return u
	}
	for _, d := range cg.dirs {
		if !d.mem {
			continue
		}
		if d.v2 {
			u.peak = readInt(filepath.Join(d.path, "memory.peak"))
			if n, ok := keyedValue(filepath.Join(d.path, "memory.events"), "oom_kill"); ok && n > 0 {
				u.oomKilled = true
			}
			continue
		}
		u.peak = readInt(filepath.Join(d.path, "memory.max_usage_in_bytes"))
		if n, ok := keyedValue(filepath.Join(d.path, "memory.oom_control"), "oom_kill"); ok {
			u.oomKilled = n > 0
		} else if killedBySIGKILL && readInt(filepath.Join(d.path, "memory.failcnt")) > 0 {
			u.oomKilled = true
		}
	}
	return u
}

func readInt(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n
}

// keyedValue reads "key N" from a flat-keyed cgroup file.
func keyedValue(path, key string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[0] == key {
			n, err := strconv.ParseInt(f[1], 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// remove kills whatever is still in the run's cgroup (nothing, once the
// supervisor saw the tree die; the cgroup is the exact membership, so this
// is a last guard) and removes it. It returns the first error.
func (cg *runCgroup) remove() error {
	if cg == nil {
		return nil
	}
	var first error
	for i := len(cg.dirs) - 1; i >= 0; i-- {
		d := cg.dirs[i]
		var err error
		for try := 0; try < 100; try++ {
			err = unix.Rmdir(d.path)
			if err == nil || err == unix.ENOENT {
				err = nil
				break
			}
			if err != unix.EBUSY {
				break
			}
			for _, pid := range cgroupPids(d.path) {
				_ = unix.Kill(pid, syscall.SIGKILL)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err != nil && first == nil {
			first = fmt.Errorf("removing cgroup %s: %w", d.path, err)
		}
	}
	return first
}

func cgroupPids(dir string) []int {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil && n > 0 {
			pids = append(pids, n)
		}
	}
	return pids
}
