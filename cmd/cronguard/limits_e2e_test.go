package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// e2eProfile is the profile part of a run record entry.
type e2eProfile struct {
	StopReason     string `json:"stop_reason"`
	Exit           int    `json:"exit"`
	MaxRSSKB       int64  `json:"max_rss_kb"`
	UserCPUMS      int64  `json:"user_cpu_ms"`
	SysCPUMS       int64  `json:"sys_cpu_ms"`
	PeakMemoryKB   int64  `json:"peak_memory_kb"`
	PeakMemoryFrom string `json:"peak_memory_from"`
}

func (e *env) lastRun(lockName string) e2eProfile {
	e.t.Helper()
	data, _, err := e.conn.Get(e.prefix + "/runs/" + lockName)
	if err != nil {
		e.t.Fatalf("reading the run record: %v", err)
	}
	var rec struct {
		LastRun *e2eProfile `json:"last_run"`
	}
	if err := json.Unmarshal(data, &rec); err != nil || rec.LastRun == nil {
		e.t.Fatalf("run record %s: %v", data, err)
	}
	return *rec.LastRun
}

// memoryControllerOrSkip skips only where the kernel has no memory
// controller at all.
func memoryControllerOrSkip(t *testing.T) {
	t.Helper()
	b, _ := os.ReadFile("/proc/cgroups")
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 4 && f[0] == "memory" && f[3] == "1" {
			return
		}
	}
	t.Skip("the kernel offers no memory controller (/proc/cgroups)")
}

// The job's tree (a grandchild here) runs at the nice value, I/O class
// and rlimits given.
func TestE2E_LimitsInJob(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(fleetAB)
	p := e.run("hostA", "run", "--no-lock", "--lock", "limits", "--nice", "9", "--ionice", "idle",
		"--rlimit", "nofile=77:88", "--rlimit", "core=0", "--",
		"sh", "-c", `sh -c 'set -- $(cut -d")" -f2 /proc/$$/stat); echo nice=${17} nofile=$(ulimit -n):$(ulimit -Hn) core=$(ulimit -c); ionice -p $$'`)
	if p.code != 0 {
		t.Fatalf("exit %d; stderr: %s", p.code, p.stderr.String())
	}
	out := p.stdout.String()
	if !strings.Contains(out, "nice=9 nofile=77:88 core=0\n") || !strings.Contains(out, "idle\n") {
		t.Errorf("job output %q", out)
	}
}

// A limit that is bad or cannot be enforced: exit 125, one line, the job
// never starts.
func TestE2E_BadLimits(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(fleetAB)
	marker := filepath.Join(e.dir, "ran")
	for _, args := range [][]string{
		{"--nice", "20"},
		{"--nice", "x"},
		{"--ionice", "fast"},
		{"--ionice", "idle:3"},
		{"--rlimit", "bogus=1"},
		{"--rlimit", "nofile=10:5"},
		{"--rlimit", "nofile=1099511627776"}, // above fs.nr_open: not enforceable
		{"--rlimit", "nofile=5", "--rlimit", "nofile=6"},
		{"--memory-max", "10X"},
		{"--memory-max", "100"},
		{"--cpu-max", "0"},
	} {
		a := append([]string{"run", "--no-lock", "--lock", "bad"}, args...)
		p := e.run("hostA", append(a, "--", "touch", marker)...)
		stderr := p.stderr.String()
		if p.code != 125 || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "cronguard: --") {
			t.Errorf("%q: exit %d, stderr %q; want 125 and one line", args, p.code, stderr)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Fatalf("%q: the job ran", args)
		}
	}
}

// cgroupDirsOf reads the cgroup paths a job printed (/proc/self/cgroup)
// that belong to the run's cgroup.
func cgroupDirsOf(t *testing.T, procCgroup, name string) []string {
	t.Helper()
	var dirs []string
	for _, line := range strings.Split(procCgroup, "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 || !strings.Contains(f[2], "/cronguard/"+name) {
			continue
		}
		switch {
		case f[1] == "":
			dirs = append(dirs, filepath.Join("/sys/fs/cgroup", f[2]))
		case strings.Contains(","+f[1]+",", ",memory,"):
			dirs = append(dirs, filepath.Join("/sys/fs/cgroup/memory", f[2]))
		case strings.Contains(","+f[1]+",", ",cpu,"):
			dirs = append(dirs, filepath.Join("/sys/fs/cgroup/cpu", f[2]))
		}
	}
	return dirs
}

// A job over --memory-max is OOM-killed; the run says oom (finish event,
// run record), its peak is about the limit, and the cgroup is gone after.
func TestE2E_MemoryMaxOOM(t *testing.T) {
	memoryControllerOrSkip(t)
	e := newEnv(t)
	e.writeFleet(fleetAB)
	cg := filepath.Join(e.dir, "cgroup")
	p := e.run("hostA", "run", "--no-lock", "--lock", "hog", "--memory-max", "64M", "--",
		"sh", "-c", `cat /proc/self/cgroup > `+cg+`; x=$(head -c 400000000 /dev/zero | tr '\000' x); echo survived`)
	if p.code != 137 {
		t.Errorf("exit %d, want 137; stderr: %s", p.code, p.stderr.String())
	}
	fin := p.mustEvent(t, "finish")
	if fin["stop_reason"] != "oom" {
		t.Errorf("finish event %v, want stop_reason oom", fin)
	}
	rec := e.lastRun("hog")
	if rec.StopReason != "oom" || rec.PeakMemoryFrom != "cgroup" || rec.PeakMemoryKB < 60<<10 || rec.PeakMemoryKB > 70<<10 {
		t.Errorf("run record %+v, want stop_reason oom and a cgroup peak of about 64 MB", rec)
	}
	b, _ := os.ReadFile(cg)
	runID, _ := fin["run_id"].(string)
	dirs := cgroupDirsOf(t, string(b), "hog-"+runID)
	if len(dirs) == 0 {
		t.Fatalf("the job was in no run cgroup: %s", b)
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s still there after the run (%v)", d, err)
		}
	}
}

// A job of ~100 MB: the record's peak is at least 100 MB, from the cgroup
// with --memory-max, from rusage without; CPU is there; --cpu-max keeps a
// spinning job under half of its wall time; the metrics carry the profile.
func TestE2E_Profile(t *testing.T) {
	memoryControllerOrSkip(t)
	e := newEnv(t)
	e.writeFleet(fleetAB)
	cfg, _, metricsDir := e.recordConfig("profile.json", e.zkAddr, 10*time.Second)
	hog := `x=$(head -c 100000000 /dev/zero | tr '\000' x); i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done`
	for _, c := range []struct {
		lock  string
		flags []string
		from  string
	}{{"prof_cg", []string{"--memory-max", "1G"}, "cgroup"}, {"prof_ru", nil, "rusage"}} {
		args := append(append([]string{"run", "--no-lock", "--lock", c.lock}, c.flags...), "--", "sh", "-c", hog)
		p := e.startWithConfig(cfg, "hostA", args...)
		if code := p.wait(t, 60*time.Second); code != 0 {
			t.Fatalf("%s: exit %d: %s", c.lock, code, p.stderr.String())
		}
		rec := e.lastRun(c.lock)
		if rec.PeakMemoryKB < 100000000/1024 || rec.PeakMemoryFrom != c.from || rec.UserCPUMS+rec.SysCPUMS <= 0 || rec.MaxRSSKB <= 0 {
			t.Errorf("%s: record %+v, want a peak of at least 100 MB from %s, and CPU", c.lock, rec, c.from)
		}
		if fin := p.mustEvent(t, "finish"); fin["peak_memory_kb"] == nil {
			t.Errorf("%s: finish event without peak_memory_kb: %v", c.lock, fin)
		}
		prom, _ := os.ReadFile(filepath.Join(metricsDir, "cronguard_"+c.lock+".prom"))
		peak := metricValue(string(prom), "cronguard_last_peak_memory_bytes")
		if peak < 100000000 || !strings.Contains(string(prom), "cronguard_last_user_cpu_seconds") {
			t.Errorf("%s: metrics peak %v:\n%s", c.lock, peak, prom)
		}
	}

	p := e.startWithConfig(cfg, "hostA", "run", "--no-lock", "--lock", "spin", "--cpu-max", "20", "--",
		"sh", "-c", `end=$(($(date +%s)+2)); while [ $(date +%s) -lt $end ]; do :; done`)
	if code := p.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("spin: exit %d: %s", code, p.stderr.String())
	}
	fin := p.mustEvent(t, "finish")
	rec := e.lastRun("spin")
	dur, _ := fin["duration_ms"].(float64) // milliseconds (zerolog's default)
	if cpu := rec.UserCPUMS + rec.SysCPUMS; dur <= 0 || float64(cpu) > dur/2 {
		t.Errorf("--cpu-max 20: CPU %d ms in %v ms, want under half", cpu, dur)
	}
}

func metricValue(prom, name string) float64 {
	for _, line := range strings.Split(prom, "\n") {
		if strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ") {
			v, _ := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			return v
		}
	}
	return -1
}
