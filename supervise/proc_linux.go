//go:build linux

package supervise

import (
	"bytes"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// proc is what the supervisor needs from /proc/PID/stat.
type proc struct {
	pid, ppid, pgid int
	start           uint64 // start time, clock ticks after boot
	state           byte
}

// readProc reads /proc/PID/stat; ok is false when the process is gone.
func readProc(pid int, buf []byte) (p proc, ok bool) {
	fd, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/stat", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return p, false
	}
	n, err := unix.Read(fd, buf)
	unix.Close(fd)
	if err != nil || n <= 0 {
		return p, false
	}
	return parseStat(pid, buf[:n])
}

// parseStat parses the contents of /proc/PID/stat (see proc(5)). The
// command name may contain spaces and parentheses, so fields are counted
// from the last ')'.
func parseStat(pid int, b []byte) (p proc, ok bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return p, false
	}
	p.pid = pid
	// Fields after ')': 3 state, 4 ppid, 5 pgrp, ... 22 starttime.
	field := 3
	for _, f := range bytes.Fields(b[i+1:]) {
		switch field {
		case 3:
			p.state = f[0]
		case 4:
			p.ppid, _ = strconv.Atoi(string(f))
		case 5:
			p.pgid, _ = strconv.Atoi(string(f))
		case 22:
			p.start, _ = strconv.ParseUint(string(f), 10, 64)
			return p, true
		}
		field++
	}
	return p, false
}

// allProcs reads every process in /proc. A process that exits meanwhile is
// simply missing; one created meanwhile may be missing too, which is why
// the kill loops walk again until nothing is left.
func allProcs() []proc {
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	buf := make([]byte, 1024)
	procs := make([]proc, 0, len(names))
	for _, name := range names {
		if name == "" || name[0] < '0' || name[0] > '9' {
			continue
		}
		pid, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		if p, ok := readProc(pid, buf); ok {
			procs = append(procs, p)
		}
	}
	return procs
}

// treeOf returns the processes of procs that are in process group pgid or
// descend from one of roots (following PPid). Roots themselves are
// included only if they are in pgid; skip is never included.
func treeOf(procs []proc, pgid int, roots []int, skip int) []proc {
	children := make(map[int][]int, len(procs))
	byPid := make(map[int]proc, len(procs))
	for _, p := range procs {
		children[p.ppid] = append(children[p.ppid], p.pid)
		byPid[p.pid] = p
	}
	seen := make(map[int]bool)
	var out []proc
	add := func(pid int) {
		if pid == skip || seen[pid] {
			return
		}
		if p, ok := byPid[pid]; ok {
			seen[pid] = true
			out = append(out, p)
		}
	}
	if pgid > 0 {
		for _, p := range procs {
			if p.pgid == pgid {
				add(p.pid)
			}
		}
	}
	queue := append([]int(nil), roots...)
	visited := make(map[int]bool)
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		if visited[pid] {
			continue
		}
		visited[pid] = true
		for _, c := range children[pid] {
			add(c)
			queue = append(queue, c)
		}
	}
	return out
}

// signalProcs sends sig to each process that is not in process group
// skipPgid (those get the signal through the group).
func signalProcs(ps []proc, sig syscall.Signal, skipPgid int) (sent int) {
	for _, p := range ps {
		if skipPgid > 0 && p.pgid == skipPgid {
			continue
		}
		if p.state == 'Z' && sig != 0 {
			continue // a zombie is already dead; only its parent can free it
		}
		if unix.Kill(p.pid, sig) == nil {
			sent++
		}
	}
	return sent
}

// groupAlive reports whether any process (a zombie too) is in process
// group pgid.
func groupAlive(pgid int) bool {
	err := unix.Kill(-pgid, 0)
	return err == nil || err == unix.EPERM
}

// mayHaveChildren reports whether this process has any child at all. It
// reaps nothing (WNOWAIT), so it cannot race anyone's wait.
func mayHaveChildren() bool {
	var si unix.Siginfo
	err := unix.Waitid(unix.P_ALL, 0, &si, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
	return err != unix.ECHILD
}

// selfChildren lists the direct children of this process from
// /proc/self/task/*/children (one small file per thread, instead of a walk
// of every process); when the kernel lacks that file it walks /proc.
func selfChildren() []int {
	d, err := os.Open("/proc/self/task")
	if err != nil {
		return childrenByWalk()
	}
	tids, _ := d.Readdirnames(-1)
	d.Close()
	var out []int
	for _, tid := range tids {
		data, err := os.ReadFile("/proc/self/task/" + tid + "/children")
		if err != nil {
			if _, serr := os.Stat("/proc/self/task/" + tid); serr == nil {
				return childrenByWalk() // thread exists, file does not: no CONFIG_PROC_CHILDREN
			}
			continue // the thread exited meanwhile
		}
		for _, f := range bytes.Fields(data) {
			if pid, err := strconv.Atoi(string(f)); err == nil {
				out = append(out, pid)
			}
		}
	}
	return out
}

func childrenByWalk() []int {
	self := os.Getpid()
	var out []int
	for _, p := range allProcs() {
		if p.ppid == self {
			out = append(out, p.pid)
		}
	}
	return out
}
