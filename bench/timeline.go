package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// timeline splits guarded runs into phases with perf's scheduler and
// syscall tracepoints (low overhead: no ptrace), so a miss can be pinned on
// its cause: cronguard's start-up, the ZooKeeper session, the requests,
// the shim, the job, the run record and the close. It needs `perf` and
// root; without them it says so and returns nil.
func timeline(cronguard string, env []string, n int, dir string) (*table, error) {
	perf, err := exec.LookPath("perf")
	if err != nil {
		return nil, fmt.Errorf("perf is not installed (apt-get install linux-perf)")
	}
	data := filepath.Join(dir, "timeline.data")
	script := fmt.Sprintf("for i in $(seq %d); do %q run --group g -- /bin/true; sleep 0.02; done", n, cronguard)
	cmd := exec.Command(perf, "record", "-q", "-o", data,
		"-e", "sched:sched_process_exec,sched:sched_process_exit,syscalls:sys_enter_connect,syscalls:sys_enter_write",
		"--", "/bin/bash", "-c", script)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("perf record: %v: %s", err, bytes.TrimSpace(out))
	}
	out, err := exec.Command(perf, "script", "-i", data, "-F", "pid,tid,time,event,trace").Output()
	if err != nil {
		return nil, fmt.Errorf("perf script: %v", err)
	}
	return phases(out, filepath.Base(cronguard))
}

var perfLine = regexp.MustCompile(`^\s*(\d+)/(\d+)\s+([\d.]+):\s+(\S+):\s*(.*)$`)
var perfFd = regexp.MustCompile(`fd: (0x[0-9a-f]+)`)

type runTrace struct {
	pid, shim, fd                           int
	t0, connect, shimExec, jobExec, jobExit float64
	shimExit, exit                          float64
	zk                                      []float64
}

func phases(script []byte, exe string) (*table, error) {
	var runs []*runTrace
	var cur *runTrace
	sc := bufio.NewScanner(bytes.NewReader(script))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := perfLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		pid, _ := strconv.Atoi(m[1])
		t, _ := strconv.ParseFloat(m[3], 64)
		t *= 1000 // ms
		ev, tr := m[4], m[5]
		fd := -1
		if fm := perfFd.FindStringSubmatch(tr); fm != nil {
			v, _ := strconv.ParseInt(fm[1], 0, 64)
			fd = int(v)
		}
		switch {
		case ev == "sched:sched_process_exec" && strings.Contains(tr, "/"+exe+" "):
			cur = &runTrace{pid: pid, t0: t, fd: -1}
			runs = append(runs, cur)
		case cur == nil:
		case ev == "syscalls:sys_enter_connect" && pid == cur.pid && cur.fd < 0:
			cur.connect, cur.fd = t, fd
		case ev == "syscalls:sys_enter_write" && pid == cur.pid && fd == cur.fd && fd >= 0:
			cur.zk = append(cur.zk, t)
		case ev == "sched:sched_process_exec" && (strings.Contains(tr, "/proc/self/exe") || strings.Contains(tr, "/cronguard-shim ")):
			cur.shimExec, cur.shim = t, pid
		case ev == "sched:sched_process_exec" && strings.Contains(tr, "filename=/bin/true"):
			cur.jobExec = t
		case ev == "sched:sched_process_exit" && strings.Contains(tr, "comm=true "):
			cur.jobExit = t
		case ev == "sched:sched_process_exit" && pid == cur.shim && strings.Contains(tr, "group_dead=true"):
			cur.shimExit = t
		case ev == "sched:sched_process_exit" && pid == cur.pid && strings.Contains(tr, "group_dead=true"):
			cur.exit = t
		}
	}
	names := []string{
		"exec -> connect(2): Go start-up, package init, flags, config, logger",
		"connect(2) -> session: TCP, handshake, ZooKeeper creates the session",
		"session -> last request before the shim (read config and run record)",
		"last request -> shim exec: its answer, signal set-up, fork",
		"shim exec -> job exec: the shim's start-up, overlapped by taking the lock (create, confirm+watch), the go",
		"job: exec -> exit (/bin/true)",
		"job exit -> shim exit (reap, report)",
		"shim exit -> close sent: status, log, run record (read+write)",
		"close sent -> exit: ZooKeeper closes the session",
		"total: exec -> exit",
	}
	vals := make([]sample, len(names))
	used := 0
	for _, r := range runs {
		if r.exit == 0 || r.shimExec == 0 || r.jobExec == 0 || r.shimExit == 0 || len(r.zk) < 3 {
			continue
		}
		var pre, post []float64
		for _, w := range r.zk {
			if w < r.shimExec {
				pre = append(pre, w)
			} else if w > r.shimExit {
				post = append(post, w)
			}
		}
		if len(pre) < 2 || len(post) < 1 {
			continue
		}
		closeSent := post[len(post)-1]
		d := []float64{
			r.connect - r.t0,
			pre[1] - r.connect, // the first request follows the session
			pre[len(pre)-1] - pre[1],
			r.shimExec - pre[len(pre)-1],
			r.jobExec - r.shimExec,
			r.jobExit - r.jobExec,
			r.shimExit - r.jobExit,
			closeSent - r.shimExit,
			r.exit - closeSent,
			r.exit - r.t0,
		}
		for i, v := range d {
			vals[i] = append(vals[i], time.Duration(v*float64(time.Millisecond)))
		}
		used++
	}
	if used == 0 {
		return nil, fmt.Errorf("no complete run in the perf trace (%d started)", len(runs))
	}
	t := &table{head: []string{"phase of a guarded run (perf trace)", "n", "median ms", "p90 ms"}}
	for i, name := range names {
		t.add(name, strconv.Itoa(len(vals[i])), ms(vals[i].median()), ms(vals[i].p90()))
	}
	return t, nil
}
