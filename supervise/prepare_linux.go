//go:build linux

// Prepare/Go/Abort: a shim started before the caller knows whether the job
// may run, so that its start-up overlaps taking the lock.

package supervise

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Pending is a job whose shim is started but waits before it runs the
// command: see Prepare.
type Pending struct {
	c    *Child
	goFd int // write end of the go pipe; -1 once used
	spec Spec
	opts []Option
}

// Prepare starts the shim now and has it wait, in the job's process group
// with its parent-death signal armed, until Go or Abort. Its start-up (a
// second Go process, about 5 ms) then overlaps what the caller still has to
// do, such as taking the lock, instead of following it. Without the shim
// (WithoutShim) nothing starts before Go.
func Prepare(spec Spec, opts ...Option) (*Pending, error) {
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	if o.noShim {
		return &Pending{goFd: -1, spec: spec, opts: opts}, nil
	}
	c, goFd, err := startChild(spec, true, opts)
	if err != nil {
		return nil, err
	}
	return &Pending{c: c, goFd: goFd}, nil
}

// Go runs the command, with extraEnv (KEY=VALUE entries known only now,
// such as the fencing token) added to the Spec's environment.
func (p *Pending) Go(extraEnv []string) (*Child, error) {
	if p.c == nil {
		spec := p.spec
		if spec.Env == nil {
			spec.Env = os.Environ()
		}
		spec.Env = append(append([]string(nil), spec.Env...), extraEnv...)
		return Start(spec, p.opts...)
	}
	if p.goFd < 0 {
		return nil, errors.New("supervise: Go after Go or Abort")
	}
	msg := goMessage
	for _, kv := range extraEnv {
		msg += kv + "\x00"
	}
	p.c.setStarted(time.Now())
	_, err := unix.Write(p.goFd, []byte(msg))
	unix.Close(p.goFd)
	p.goFd = -1
	if err != nil {
		// The shim is gone (killed, or cronguard's death raced us).
		return nil, fmt.Errorf("supervise: the shim did not take the go: %w", err)
	}
	p.c.log.Debug().Int("child_pid", p.c.pid).Msg("supervise: go")
	return p.c, nil
}

// Abort ends a prepared shim without running the command. It tells the
// shim so explicitly, and the shim exits without a word: a skip must be
// silent, and cronguard usually exits before its shim has even started, so
// the shim could not tell this from cronguard's death otherwise. Abort does
// not wait for the shim (a write and a close, microseconds): the skip path
// stays as fast as it was.
func (p *Pending) Abort() {
	if p.c != nil && p.goFd >= 0 {
		// A raw write: if the shim is already gone, EPIPE, and the
		// runtime ignores the SIGPIPE of an fd other than 1 and 2.
		_, _ = unix.Write(p.goFd, []byte(abortMessage))
		unix.Close(p.goFd)
		p.goFd = -1
		// The shim joins the cgroup only after a go: it is empty.
		_ = p.c.cg.remove()
	}
}
