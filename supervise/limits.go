package supervise

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Limits are the resource limits of a job, applied to its whole tree:
// nice, I/O priority and rlimits by the shim to itself just before it
// forks the command (the command and everything it starts inherit them),
// memory and CPU through a cgroup made for the run (see cgroup_linux.go).
// A limit that cannot be enforced is an error before the job starts, never
// a silent no-op.
type Limits struct {
	Nice    *int    // absolute nice value, -20..19 (setpriority)
	IOPrio  *IOPrio // ioprio_set
	Rlimits []Rlimit
	// MemoryMax is the job's memory limit in bytes (cgroup v2 memory.max,
	// v1 memory.limit_in_bytes); 0: none. Swap is limited to nothing
	// where the cgroup has the knob, so the limit is the job's memory.
	MemoryMax int64
	// CPUMax is the job's CPU bandwidth in percent of one CPU (200: two
	// CPUs' worth); 0: none.
	CPUMax float64
	// CgroupName names the run's cgroup, under "cronguard"; it must be
	// unique per run (lock and run id).
	CgroupName string
}

// needsCgroup reports whether the limits need a cgroup.
func (l *Limits) needsCgroup() bool { return l != nil && (l.MemoryMax > 0 || l.CPUMax > 0) }

// IOPrio is an I/O scheduling class and level, as ionice(1) takes them.
type IOPrio struct {
	Class int // 1 realtime, 2 best-effort, 3 idle
	Level int // 0 (highest) .. 7; 0 for idle
}

// value is the ioprio_set(2) argument.
func (p IOPrio) value() int { return p.Class<<13 | p.Level }

var ioClasses = map[string]int{"realtime": 1, "rt": 1, "1": 1, "best-effort": 2, "be": 2, "2": 2, "idle": 3, "3": 3}

// ParseIOnice reads CLASS[:LEVEL]: CLASS is realtime, best-effort or idle
// (or 1, 2, 3, as ionice -c), LEVEL 0..7 (default 4; idle has none).
func ParseIOnice(s string) (IOPrio, error) {
	c, l, hasLevel := strings.Cut(s, ":")
	class, ok := ioClasses[strings.ToLower(c)]
	if !ok {
		return IOPrio{}, fmt.Errorf("%q: want CLASS[:LEVEL], CLASS realtime, best-effort or idle", s)
	}
	p := IOPrio{Class: class, Level: 4}
	if class == 3 {
		p.Level = 0
		if hasLevel {
			return IOPrio{}, fmt.Errorf("%q: the idle class has no level", s)
		}
		return p, nil
	}
	if hasLevel {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 || n > 7 {
			return IOPrio{}, fmt.Errorf("%q: LEVEL must be 0..7", s)
		}
		p.Level = n
	}
	return p, nil
}

// ParseNice reads a nice value, -20..19.
func ParseNice(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < -20 || n > 19 {
		return 0, fmt.Errorf("%q: want a whole number from -20 to 19", s)
	}
	return n, nil
}

// Rlimit is one resource limit (setrlimit(2)).
type Rlimit struct {
	Name     string // as written: nofile, as, ...
	Resource int    // RLIMIT_*
	Cur, Max uint64 // RlimInfinity for unlimited
}

// RlimInfinity is RLIM_INFINITY.
const RlimInfinity = math.MaxUint64

// rlimitNames maps names (ulimit's long names, systemd's Limit*= without
// the prefix) to Linux's RLIMIT_* numbers, which are the same on every
// architecture Go supports but mips and sparc (not built for), and whether
// the value is a size (suffixes K, M, G, T allowed).
var rlimitNames = map[string]struct {
	res  int
	size bool
}{
	"cpu": {0, false}, "fsize": {1, true}, "data": {2, true}, "stack": {3, true}, "core": {4, true},
	"rss": {5, true}, "nproc": {6, false}, "nofile": {7, false}, "memlock": {8, true}, "as": {9, true},
	"locks": {10, false}, "sigpending": {11, false}, "msgqueue": {12, true}, "nice": {13, false},
	"rtprio": {14, false}, "rttime": {15, false},
}

// RlimitNames lists the names ParseRlimit accepts.
func RlimitNames() []string {
	return []string{"as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack"}
}

// ParseRlimit reads NAME=SOFT[:HARD]: each value a whole number (sizes in
// bytes, with an optional K, M, G or T suffix; cpu in seconds) or
// "unlimited". One value sets both limits, as ulimit does.
func ParseRlimit(s string) (Rlimit, error) {
	name, v, ok := strings.Cut(s, "=")
	name = strings.ToLower(strings.TrimPrefix(strings.ToLower(name), "rlimit_"))
	info, known := rlimitNames[name]
	if !ok || !known {
		return Rlimit{}, fmt.Errorf("%q: want NAME=SOFT[:HARD], NAME one of %s", s, strings.Join(RlimitNames(), " "))
	}
	soft, hard, two := strings.Cut(v, ":")
	r := Rlimit{Name: name, Resource: info.res}
	var err error
	if r.Cur, err = rlimitValue(soft, info.size); err != nil {
		return Rlimit{}, fmt.Errorf("%q: %v", s, err)
	}
	r.Max = r.Cur
	if two {
		if r.Max, err = rlimitValue(hard, info.size); err != nil {
			return Rlimit{}, fmt.Errorf("%q: %v", s, err)
		}
	}
	if r.Cur > r.Max {
		return Rlimit{}, fmt.Errorf("%q: the soft limit is above the hard one", s)
	}
	return r, nil
}

func rlimitValue(s string, size bool) (uint64, error) {
	if s == "unlimited" || s == "infinity" {
		return RlimInfinity, nil
	}
	if size {
		n, err := ParseSize(s)
		return uint64(n), err
	}
	n, err := strconv.ParseUint(s, 10, 63)
	if err != nil {
		return 0, fmt.Errorf("%q: want a whole number or unlimited", s)
	}
	return n, nil
}

// ParseSize reads a byte count: a whole number with an optional binary
// suffix K, M, G or T (KiB, MiB, ... and KB, MB, ... mean the same).
func ParseSize(s string) (int64, error) {
	t := strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(s), "B"), "I")
	mult := int64(1)
	if t != "" {
		switch t[len(t)-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		case 'T':
			mult = 1 << 40
		}
		if mult > 1 {
			t = t[:len(t)-1]
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || strings.HasPrefix(t, "+") || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q: want a size such as 512M, 2G or a number of bytes", s)
	}
	return n * mult, nil
}

// ParseCPUMax reads a CPU bandwidth in percent of one CPU ("50", "50%",
// "250%"): 1 to 100000.
func ParseCPUMax(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil || v < 1 || v > 100000 || math.IsNaN(v) {
		return 0, fmt.Errorf("%q: want a percentage of one CPU, 1 or more (50%%: half a CPU, 200%%: two)", s)
	}
	return v, nil
}
