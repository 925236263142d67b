package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// command is one thing whose whole-process cost is measured.
type command struct {
	name     string
	argv     []string
	env      []string // added to the harness's environment
	wantExit int
}

// result of one run: wall time from fork to reap, the process's exit code
// and its wait4 CPU times (the process's and its reaped children's).
type result struct {
	wall    time.Duration
	code    int
	usr     time.Duration
	sys     time.Duration
	errText string
}

var devNull *os.File

func init() {
	var err error
	devNull, err = os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		panic(err)
	}
}

// runOnce forks argv with stdin and stdout on /dev/null and stderr on
// errFile (for diagnosis), waits, and returns the measurements.
// nowArg in an argv is replaced by a time one minute later at every run:
// `run --schedule '* * * * *' --now {NOW}` then claims a new slot each time.
const nowArg = "{NOW}"

var nowSeq atomic.Int64

func expandNow(argv []string) []string {
	for i, a := range argv {
		if a == nowArg {
			out := append([]string(nil), argv...)
			t := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(nowSeq.Add(1)) * time.Minute)
			out[i] = t.Format(time.RFC3339)
			return out
		}
	}
	return argv
}

func runOnce(argv, env []string, errFile *os.File) result {
	argv = expandNow(argv)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin, cmd.Stdout = devNull, devNull
	cmd.Stderr = devNull
	var off int64
	if errFile != nil {
		cmd.Stderr = errFile
		off, _ = errFile.Seek(0, 2)
	}
	t0 := time.Now()
	err := cmd.Run()
	wall := time.Since(t0)
	r := result{wall: wall, code: -1}
	var ee *exec.ExitError
	switch {
	case err == nil:
		r.code = 0
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.code = 128 + int(ws.Signal())
		} else {
			r.code = ee.ExitCode()
		}
	default:
		r.errText = err.Error()
		return r
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.usr = time.Duration(ru.Utime.Nano())
		r.sys = time.Duration(ru.Stime.Nano())
	}
	if errFile != nil && r.errText == "" {
		if b := tail(errFile, off); b != "" {
			r.errText = b
		}
	}
	return r
}

// tail returns what was written to f after off (at most 2 KB).
func tail(f *os.File, off int64) string {
	end, err := f.Seek(0, 2)
	if err != nil || end <= off {
		return ""
	}
	n := end - off
	if n > 2048 {
		off, n = end-2048, 2048
	}
	b := make([]byte, n)
	_, _ = f.ReadAt(b, off)
	return strings.TrimSpace(string(b))
}

// caseResult accumulates the runs of one command.
type caseResult struct {
	cmd      command
	wall     sample
	cpu      sample
	failures int
	lastErr  string
}

func (c *caseResult) add(r result) {
	if r.code != c.cmd.wantExit {
		c.failures++
		c.lastErr = fmt.Sprintf("exit %d, want %d: %s", r.code, c.cmd.wantExit, r.errText)
		return
	}
	c.wall = append(c.wall, r.wall)
	c.cpu = append(c.cpu, r.usr+r.sys)
}
