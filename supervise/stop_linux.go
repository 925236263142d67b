//go:build linux

// Stopping a running job on the caller's orders: signals to the group and
// to escapees, and the SIGKILL deadline, which can only move earlier.

package supervise

import (
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Signal sends sig to the job's whole process group and to every
// descendant that left it (found by a /proc walk). It returns
// os.ErrProcessDone once the job is gone.
func (c *Child) Signal(sig syscall.Signal) error {
	if c.finished.Load() || c.pid <= 0 {
		return os.ErrProcessDone
	}
	procs := allProcs()
	tree := c.tree(procs)
	errG := unix.Kill(-c.pid, sig)
	n := signalProcs(tree, sig, c.pid)
	if errG == unix.ESRCH && n == 0 {
		return os.ErrProcessDone
	}
	if errG != nil && errG != unix.ESRCH {
		return fmt.Errorf("supervise: kill(-%d, %v): %w", c.pid, sig, errG)
	}
	return nil
}

// Stop begins stopping the job; it never resumes. The first call sends
// first (usually SIGTERM, followed by SIGCONT so a stopped process can act
// on it) to the tree, and SIGKILL follows at killBy. Later calls can only
// move killBy earlier: a fence deadline can shorten the grace, nothing can
// extend it. first == SIGKILL, or killBy not in the future, kills at once;
// first == 0 sends nothing before the kill.
//
// Stop never blocks and does no I/O but signals: the process group is
// signalled at once; descendants that left the group are found by a /proc
// walk in another goroutine.
func (c *Child) Stop(first syscall.Signal, killBy time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.finished.Load() || c.killed || c.pid <= 0 {
		return // c.pid <= 0 would signal our own group
	}
	now := time.Now()
	killNow := first == syscall.SIGKILL || !killBy.After(now)
	if !c.stopping {
		c.stopping = true
		c.killBy = killBy
		if !killNow {
			if first != 0 {
				_ = unix.Kill(-c.pid, first)
				if first != syscall.SIGCONT {
					_ = unix.Kill(-c.pid, syscall.SIGCONT)
				}
				go c.signalEscapees(first)
			}
			c.timer = time.AfterFunc(killBy.Sub(now), c.killTimer)
			return
		}
	}
	if killNow {
		c.killLocked()
		return
	}
	if killBy.Before(c.killBy) {
		c.killBy = killBy
		c.timer.Reset(killBy.Sub(now))
	}
}

func (c *Child) killTimer() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.finished.Load() || c.killed {
		return
	}
	if d := time.Until(c.killBy); d > 0 {
		c.timer.Reset(d)
		return
	}
	c.killLocked()
}

// killLocked SIGKILLs the group at once and the escapees from another
// goroutine. Caller holds c.mu.
func (c *Child) killLocked() {
	c.killed = true
	if c.timer != nil {
		c.timer.Stop()
	}
	_ = unix.Kill(-c.pid, syscall.SIGKILL)
	go c.signalEscapees(syscall.SIGKILL)
}

// signalEscapees signals the processes of the job outside its group.
func (c *Child) signalEscapees(sig syscall.Signal) {
	if c.finished.Load() {
		return
	}
	// Logged here, not in Stop, which must not do I/O.
	c.log.Debug().Int("child_pid", c.pid).Str("signal", sig.String()).Msg("supervise: signalled the job's group")
	signalProcs(c.tree(allProcs()), sig, c.pid)
	if sig != syscall.SIGKILL && sig != syscall.SIGCONT {
		signalProcs(c.tree(allProcs()), syscall.SIGCONT, c.pid)
	}
}
