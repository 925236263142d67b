//go:build unix && !linux

package zktest

import (
	"os/exec"
	"syscall"
	"time"
)

// startProcess starts cmd in its own process group so terminal signals go
// through our cleanup. Without Linux's Pdeathsig a crashed test binary can
// leave a JVM behind here.
func startProcess(cmd *exec.Cmd) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd.Start()
}

// waitStopped cannot observe the process state portably; give the signal a
// moment to be delivered instead.
func waitStopped(pid int, stopped bool, timeout time.Duration) error {
	time.Sleep(20 * time.Millisecond)
	return nil
}
