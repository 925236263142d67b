package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// hwmArg makes the bench binary act as the job of the peak-RSS runs: it
// reads the peak resident set (VmHWM) of its parent, the shim, and of the
// shim's parent, cronguard, while the run is in progress, and prints
// "<cronguard KB> <shim KB>". VmHWM is per address space, so unlike wait4's
// ru_maxrss (which keeps the high-water mark of the forking process across
// exec) it is cronguard's own figure.
const hwmArg = "__bench_hwm"

func hwmMain() {
	shim := os.Getppid()
	cg, err := ppidOf(shim)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if c := comm(shim); c != "cronguard-shim" {
		fmt.Fprintf(os.Stderr, "hwm: parent %d is %q, not the shim\n", shim, c)
		os.Exit(1)
	}
	a, err1 := vmHWM(cg)
	b, err2 := vmHWM(shim)
	if err1 != nil || err2 != nil {
		fmt.Fprintln(os.Stderr, err1, err2)
		os.Exit(1)
	}
	fmt.Printf("%d %d\n", a, b)
}

func comm(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	return strings.TrimSpace(string(b))
}

func ppidOf(pid int) (int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	return strconv.Atoi(f[1])
}

func vmHWM(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}

// peakRSS runs a guarded run n times with the hwm helper as its job.
func peakRSS(cronguard, self string, env []string, n int) (cg, shim []int64, err error) {
	for i := range n {
		cmd := exec.Command(cronguard, "run", "--group", "g", "--", self, hwmArg)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.Output()
		if err != nil {
			if ee, ok := err.(*exec.ExitError); ok {
				err = fmt.Errorf("%v: %s", err, ee.Stderr)
			}
			return nil, nil, fmt.Errorf("peak RSS run %d: %w", i, err)
		}
		var a, b int64
		if _, err := fmt.Sscan(string(out), &a, &b); err != nil {
			return nil, nil, fmt.Errorf("peak RSS run %d: %q: %w", i, out, err)
		}
		cg, shim = append(cg, a), append(shim, b)
	}
	return cg, shim, nil
}
