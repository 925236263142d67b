//go:build linux

package zktest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"time"
)

// spawnReq asks the spawner goroutine to start a command.
type spawnReq struct {
	cmd  *exec.Cmd
	done chan error
}

var spawnCh = make(chan spawnReq)

func init() {
	// Pdeathsig is delivered when the *thread* that forked the child exits,
	// not when the process does. Go may retire idle threads, which would
	// SIGKILL a healthy JVM at a random moment. So all JVMs are forked from
	// one goroutine that stays locked to its OS thread for the life of the
	// process; that thread therefore dies only with the process.
	go func() {
		runtime.LockOSThread()
		for req := range spawnCh {
			req.done <- req.cmd.Start()
		}
	}()
}

// startProcess starts cmd so that the JVM dies with us (Pdeathsig) and does
// not receive terminal signals aimed at our process group (Setpgid): a ^C on
// `go test` or on the demo tool must go through our cleanup, and a crashed
// or killed test binary must not leave ZooKeeper servers behind.
func startProcess(cmd *exec.Cmd) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:   true,
		Pdeathsig: syscall.SIGKILL,
	}
	req := spawnReq{cmd: cmd, done: make(chan error, 1)}
	spawnCh <- req
	return <-req.done
}

// waitStopped polls /proc until the process is (stopped=true) or is no
// longer (stopped=false) in job-control stop state, so Freeze/Thaw return
// only once the signal has actually taken effect.
func waitStopped(pid int, stopped bool, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		st, err := procState(pid)
		if err != nil {
			return err
		}
		if (st == 'T') == stopped {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("zktest: pid %d still in state %q after %v", pid, st, timeout)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// procState returns the one-letter state field of /proc/PID/stat.
func procState(pid int) (byte, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// Format: pid (comm) S ...; comm may contain spaces and parens.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0, fmt.Errorf("zktest: cannot parse /proc/%d/stat", pid)
	}
	return b[i+2], nil
}
