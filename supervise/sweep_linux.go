//go:build linux

// Finding what is left of a job (its group, descendants that left it,
// orphans reparented to us) and killing it before Done: the lock must not be
// released while any part of the job runs.

package supervise

import (
	"slices"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Sweep timing, used only when processes of the job outlive the shim (it
// was SIGKILLed) or in WithoutShim mode. The poll interval starts short
// because the usual leftover dies within a millisecond of SIGKILL, and
// grows so that a process stuck in uninterruptible sleep does not keep a
// CPU busy with /proc walks; sweepPollMax bounds how late we notice the
// tree is gone (and so how late the lock is released).
const (
	sweepPollMin = time.Millisecond
	sweepPollMax = 50 * time.Millisecond
	// sweepWarnEvery: how often to log that the job will not die (D
	// state, a frozen NFS mount). Often enough to show in the log why
	// the lock is still held; rarely enough not to flood it.
	sweepWarnEvery = 5 * time.Second
)

// tree returns the job's processes in procs: the members of its group,
// the descendants of the root while it is not reaped, and the orphans of
// the job that were reparented to us (we are a subreaper) with their
// descendants.
func (c *Child) tree(procs []proc) []proc {
	var rs []int
	if !c.reaped.Load() {
		rs = append(rs, c.pid)
	}
	orphans := c.orphans(procs)
	rs = append(rs, orphans...)
	tree := treeOf(procs, c.pid, rs, 0)
	// The orphans themselves, not only their descendants.
	in := make(map[int]bool, len(tree))
	for _, p := range tree {
		in[p.pid] = true
	}
	for _, p := range procs {
		if !in[p.pid] && slices.Contains(orphans, p.pid) {
			tree = append(tree, p)
		}
	}
	return tree
}

// orphans returns the direct children of this process that belong to the
// job: after the shim (WithoutShim: the command's parent in the job) died,
// its orphans are reparented to us. A child of ours is taken for the job's
// when it is not the root of a running Child, was started after this
// Child, and is not in our own process group (where children started by
// other code, os/exec's default, live).
func (c *Child) orphans(procs []proc) []int {
	roots.Lock()
	defer roots.Unlock()
	var out []int
	for _, p := range procs {
		if p.ppid == c.self && c.mine(p) {
			out = append(out, p.pid)
		}
	}
	return out
}

// mine tells whether p, a direct child of ours, belongs to this job.
// Caller holds roots.
func (c *Child) mine(p proc) bool {
	if roots.pids[p.pid] {
		return false
	}
	if p.pgid == c.pid {
		return true
	}
	return p.pgid != c.selfPgid && p.start+1 >= c.startTicks
}

// treeGone is the cheap check that nothing of the job is left: its group
// is empty and we have no child that belongs to it.
func (c *Child) treeGone() bool {
	if groupAlive(c.pid) {
		return false
	}
	if !mayHaveChildren() {
		return true // not even one child: nothing reparented to us
	}
	return len(c.ownChildren()) == 0
}

// ownChildren lists our direct children that belong to the job, reading
// only /proc/self/task/*/children and their stat files.
func (c *Child) ownChildren() []int {
	kids := selfChildren()
	if len(kids) == 0 {
		return nil
	}
	buf := make([]byte, 1024)
	roots.Lock()
	defer roots.Unlock()
	var out []int
	for _, pid := range kids {
		if p, ok := readProc(pid, buf); ok && c.mine(p) {
			out = append(out, pid)
		}
	}
	return out
}

// sweep kills what is left of the job and reaps what it can: SIGTERM
// (with SIGCONT) until deadline, SIGKILL after, repeating until the group
// is empty and no process of the job is our child.
func (c *Child) sweep(deadline time.Time) {
	start := time.Now()
	lastWarn := start
	delay := sweepPollMin
	termSent := false
	for {
		c.reapOrphans()
		if c.treeGone() {
			if time.Since(start) > 100*time.Millisecond {
				c.log.Info().Int("child_pid", c.pid).Dur("took_ms", time.Since(start)).Msg("supervise: leftovers gone")
			}
			return
		}
		now := time.Now()
		killing := !now.Before(deadline)
		if killing || !termSent {
			sig := syscall.SIGKILL
			if !killing {
				sig = syscall.SIGTERM
				termSent = true
			}
			procs := allProcs()
			tree := c.tree(procs)
			if sig == syscall.SIGTERM || now.Sub(lastWarn) >= sweepWarnEvery {
				lastWarn = now
				c.log.Warn().Int("child_pid", c.pid).Int("processes", len(tree)).Str("signal", sig.String()).
					Dur("since_exit", now.Sub(start)).Msg("supervise: processes of the job outlived it")
			}
			_ = unix.Kill(-c.pid, sig)
			signalProcs(tree, sig, c.pid)
			if sig != syscall.SIGKILL {
				_ = unix.Kill(-c.pid, syscall.SIGCONT)
				signalProcs(tree, syscall.SIGCONT, c.pid)
			}
		}
		d := delay
		if !killing {
			if left := deadline.Sub(now); left < d {
				d = left
			}
		}
		time.Sleep(d)
		if delay *= 2; delay > sweepPollMax {
			delay = sweepPollMax
		}
	}
}

// reapOrphans reaps the job's processes that are our children and have
// exited: the members of its group and the other orphans attributed to it.
// It never waits for anything else (os/exec's children are not touched).
func (c *Child) reapOrphans() {
	var ws unix.WaitStatus
	for {
		pid, err := unix.Wait4(-c.pid, &ws, unix.WNOHANG, nil)
		if pid <= 0 && err != unix.EINTR {
			break
		}
	}
	for _, pid := range c.ownChildren() {
		for {
			_, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
			if err != unix.EINTR {
				break
			}
		}
	}
}
