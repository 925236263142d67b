//go:build linux

package supervise

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// runLoadHelper is a job made of the test binary: "alloc MB" touches MB
// megabytes and exits 0; "spin D" burns CPU for D of wall-clock time.
func runLoadHelper(mode string, args []string) int {
	switch mode {
	case "alloc":
		mb, _ := strconv.Atoi(args[0])
		var keep [][]byte
		for i := 0; i < mb; i++ {
			b := make([]byte, 1<<20)
			for j := 0; j < len(b); j += 4096 {
				b[j] = 1
			}
			keep = append(keep, b)
		}
		time.Sleep(50 * time.Millisecond)
		return len(keep) - mb // 0
	case "spin":
		d, _ := time.ParseDuration(args[0])
		end := time.Now().Add(d)
		n := 0
		for time.Now().Before(end) {
			n++
		}
		return n & 0
	}
	return 2
}

func helperSpec(mode string, args ...string) Spec {
	return Spec{Path: testExe, Args: append([]string{testExe}, args...), Env: append(os.Environ(), helperEnv+"="+mode)}
}

func TestParseLimitValues(t *testing.T) {
	for in, want := range map[string]Rlimit{
		"nofile=1024":         {Name: "nofile", Resource: unix.RLIMIT_NOFILE, Cur: 1024, Max: 1024},
		"nofile=100:200":      {Name: "nofile", Resource: unix.RLIMIT_NOFILE, Cur: 100, Max: 200},
		"as=1G":               {Name: "as", Resource: unix.RLIMIT_AS, Cur: 1 << 30, Max: 1 << 30},
		"core=0:unlimited":    {Name: "core", Resource: unix.RLIMIT_CORE, Cur: 0, Max: RlimInfinity},
		"RLIMIT_NPROC=50":     {Name: "nproc", Resource: unix.RLIMIT_NPROC, Cur: 50, Max: 50},
		"stack=8M":            {Name: "stack", Resource: unix.RLIMIT_STACK, Cur: 8 << 20, Max: 8 << 20},
		"memlock=64KiB":       {Name: "memlock", Resource: unix.RLIMIT_MEMLOCK, Cur: 64 << 10, Max: 64 << 10},
		"cpu=unlimited":       {Name: "cpu", Resource: unix.RLIMIT_CPU, Cur: RlimInfinity, Max: RlimInfinity},
		"fsize=10M:unlimited": {Name: "fsize", Resource: unix.RLIMIT_FSIZE, Cur: 10 << 20, Max: RlimInfinity},
	} {
		got, err := ParseRlimit(in)
		if err != nil || got != want {
			t.Errorf("ParseRlimit(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"nofile", "bogus=1", "nofile=x", "nofile=200:100", "nofile=1M", "as=-1", "nofile=", "=5"} {
		if _, err := ParseRlimit(bad); err == nil {
			t.Errorf("ParseRlimit(%q): no error", bad)
		}
	}
	for in, want := range map[string]IOPrio{"idle": {3, 0}, "best-effort:7": {2, 7}, "2": {2, 4}, "realtime:0": {1, 0}, "be:3": {2, 3}} {
		if got, err := ParseIOnice(in); err != nil || got != want {
			t.Errorf("ParseIOnice(%q) = %+v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "fast", "idle:3", "best-effort:8", "2:-1", "4"} {
		if _, err := ParseIOnice(bad); err == nil {
			t.Errorf("ParseIOnice(%q): no error", bad)
		}
	}
	for _, bad := range []string{"20", "-21", "x", ""} {
		if _, err := ParseNice(bad); err == nil {
			t.Errorf("ParseNice(%q): no error", bad)
		}
	}
	for in, want := range map[string]int64{"512M": 512 << 20, "2G": 2 << 30, "100": 100, "1k": 1024, "3MiB": 3 << 20, "1MB": 1 << 20} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "M", "-1M", "1.5G", "10X", "99999999999T"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q): no error", bad)
		}
	}
	if v, err := ParseCPUMax("50%"); err != nil || v != 50 {
		t.Errorf("ParseCPUMax: %v %v", v, err)
	}
	for _, bad := range []string{"0", "0.5", "x", "-5", "NaN"} {
		if _, err := ParseCPUMax(bad); err == nil {
			t.Errorf("ParseCPUMax(%q): no error", bad)
		}
	}
}

// The job and its grandchildren run with the nice value, I/O priority and
// rlimits asked for, while the shim itself keeps its rlimits.
func TestLimitsInJob(t *testing.T) {
	forShims(t, func(t *testing.T, shim string) {
		out := filepath.Join(t.TempDir(), "out")
		f, err := os.Create(out)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		nice := 7
		io, _ := ParseIOnice("best-effort:6")
		nofile, _ := ParseRlimit("nofile=123:456")
		core, _ := ParseRlimit("core=0")
		fsize, _ := ParseRlimit("fsize=1M:2M")
		l := &Limits{Nice: &nice, IOPrio: &io, Rlimits: []Rlimit{nofile, core, fsize}}
		if err := CheckLimits(l); err != nil {
			t.Fatal(err)
		}
		// The grandchild (sh -c) reports: nice from /proc/self/stat (field
		// 19), ulimit -n/-Hn, ulimit -c, ulimit -f (1024-byte blocks), and
		// ionice -p of itself; the shim's own soft nofile, read from /proc.
		script := `sh -c 'set -- $(cut -d")" -f2 /proc/$$/stat); echo nice=${17}; echo nofile=$(ulimit -n):$(ulimit -Hn); echo core=$(ulimit -c); grep "file size" /proc/$$/limits; echo io=$(ionice -p $$ 2>&1)'; grep "open files" /proc/$PPID/limits`
		c, err := Start(Spec{Path: "/bin/sh", Args: []string{"sh", "-c", script}, Stdout: f, Limits: l}, WithShim(shim))
		if err != nil {
			t.Fatal(err)
		}
		res := waitDone(t, c, 10*time.Second)
		b, _ := os.ReadFile(out)
		got := string(b)
		if res.ExitCode != 0 {
			t.Fatalf("exit %d: %s", res.ExitCode, got)
		}
		for _, want := range []string{"nice=7\n", "nofile=123:456\n", "core=0\n", "Max file size             1048576              2097152", "io=best-effort: prio 6\n"} {
			if !strings.Contains(got, want) {
				t.Errorf("job output lacks %q:\n%s", want, got)
			}
		}
		if strings.Contains(got, " 123 ") {
			t.Errorf("the shim kept the job's nofile limit:\n%s", got)
		}
	})
}

// A limit that cannot be applied is refused before anything starts.
func TestCheckLimitsRefuses(t *testing.T) {
	big, _ := ParseRlimit("nofile=1099511627776")
	for _, l := range []*Limits{
		{Rlimits: []Rlimit{big}},
	} {
		err := CheckLimits(l)
		if err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("CheckLimits(%+v) = %v, want a one-line error", l, err)
		}
	}
	if os.Geteuid() != 0 {
		n := -5
		if err := CheckLimits(&Limits{Nice: &n}); err == nil {
			t.Error("--nice -5 accepted without privileges")
		}
	}
	// The probe leaves our own threads alone.
	if p, err := unix.Getpriority(unix.PRIO_PROCESS, 0); err != nil || p != 20 {
		t.Errorf("getpriority: %d %v (the probe leaked)", p, err)
	}
}

func requireMemoryController(t *testing.T) {
	t.Helper()
	if _, err := readCgroupMounts().where("memory"); err != nil {
		t.Skipf("the kernel offers no memory controller: %v", err)
	}
}

var cgSeq int

func cgName(t *testing.T) string {
	cgSeq++
	return fmt.Sprintf("test-%d-%d", os.Getpid(), cgSeq)
}

// A job over its memory limit is killed by the OOM killer, the run says so
// (OOMKilled), its peak is the limit's, and the cgroup is gone after.
func TestMemoryMaxOOM(t *testing.T) {
	forShims(t, func(t *testing.T, shim string) {
		requireMemoryController(t)
		l := &Limits{MemoryMax: 64 << 20, CgroupName: cgName(t)}
		spec := helperSpec("alloc", "400")
		spec.Limits = l
		c, err := Start(spec, WithShim(shim))
		if err != nil {
			t.Fatal(err)
		}
		dirs := c.cg.dirs
		if len(dirs) == 0 {
			t.Fatal("no cgroup made")
		}
		res := waitDone(t, c, 30*time.Second)
		if !res.OOMKilled || res.Signal != unix.SIGKILL {
			t.Errorf("result %+v, want an OOM kill", res)
		}
		if res.PeakMemoryBytes < 60<<20 || res.PeakMemoryBytes > 70<<20 {
			t.Errorf("peak %d, want about the 64 MB limit", res.PeakMemoryBytes)
		}
		for _, d := range dirs {
			if _, err := os.Stat(d.path); !os.IsNotExist(err) {
				t.Errorf("cgroup %s still there after the run (%v)", d.path, err)
			}
		}
	})
}

// A job of ~100 MB under a limit it does not reach: not an OOM, and its
// peak (the cgroup's, and the rusage one) is at least 100 MB.
func TestPeakMemory(t *testing.T) {
	forShims(t, func(t *testing.T, shim string) {
		requireMemoryController(t)
		spec := helperSpec("alloc", "100")
		spec.Limits = &Limits{MemoryMax: 1 << 30, CgroupName: cgName(t)}
		c, err := Start(spec, WithShim(shim))
		if err != nil {
			t.Fatal(err)
		}
		res := waitDone(t, c, 30*time.Second)
		if res.ExitCode != 0 || res.OOMKilled {
			t.Fatalf("result %+v", res)
		}
		if res.PeakMemoryBytes < 100<<20 || res.MaxRSSKB < 100<<10 {
			t.Errorf("peak %d bytes, max RSS %d KB: want at least 100 MB", res.PeakMemoryBytes, res.MaxRSSKB)
		}
	})
}

// --cpu-max 20 keeps a spinning job to about a fifth of the wall time
// (a gross bound: under half).
func TestCPUMax(t *testing.T) {
	forShims(t, func(t *testing.T, shim string) {
		if _, err := readCgroupMounts().where("cpu"); err != nil {
			t.Skipf("no cpu controller: %v", err)
		}
		spec := helperSpec("spin", "1500ms")
		spec.Limits = &Limits{CPUMax: 20, CgroupName: cgName(t)}
		c, err := Start(spec, WithShim(shim))
		if err != nil {
			t.Fatal(err)
		}
		dirs := c.cg.dirs
		res := waitDone(t, c, 30*time.Second)
		cpu := res.UserCPU + res.SysCPU
		if res.ExitCode != 0 || cpu > res.Duration/2 {
			t.Errorf("result %+v: CPU %v in %v, want at most half (limit 20%%)", res, cpu, res.Duration)
		}
		for _, d := range dirs {
			if _, err := os.Stat(d.path); !os.IsNotExist(err) {
				t.Errorf("cgroup %s still there after the run (%v)", d.path, err)
			}
		}
	})
}

// An aborted prepared run leaves no cgroup behind.
func TestPrepareAbortRemovesCgroup(t *testing.T) {
	forShims(t, func(t *testing.T, shim string) {
		requireMemoryController(t)
		p, err := Prepare(Spec{Path: "/bin/true", Limits: &Limits{MemoryMax: 1 << 30, CgroupName: cgName(t)}}, WithShim(shim))
		if err != nil {
			t.Fatal(err)
		}
		dirs := p.c.cg.dirs
		p.Abort()
		<-p.c.Done()
		for _, d := range dirs {
			if _, err := os.Stat(d.path); !os.IsNotExist(err) {
				t.Errorf("cgroup %s still there (%v)", d.path, err)
			}
		}
	})
}
