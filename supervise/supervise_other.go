//go:build !linux

package supervise

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// errUnsupported: the supervisor needs Linux (process-group signalling with
// a parent-death signal, PR_SET_CHILD_SUBREAPER, /proc).
var errUnsupported = errors.New("supervise: only supported on Linux")

// SetSubreaper is not supported on this OS.
func SetSubreaper() error { return errUnsupported }

// RunShim is not supported on this OS.
func RunShim(args []string) int {
	fmt.Fprintln(os.Stderr, "cronguard shim:", errUnsupported)
	return ExitShimFailure
}

// CheckLimits is not supported on this OS: limits need Linux.
func CheckLimits(l *Limits) error {
	if l == nil {
		return nil
	}
	return errUnsupported
}

// Child is a running job (Linux only).
type Child struct{}

// Start is not supported on this OS.
func Start(spec Spec, opts ...Option) (*Child, error) { return nil, errUnsupported }

func (c *Child) Pid() int                                    { return 0 }
func (c *Child) Started() time.Time                          { return time.Time{} }
func (c *Child) Signal(sig syscall.Signal) error             { return errUnsupported }
func (c *Child) Stop(first syscall.Signal, killBy time.Time) {}
func (c *Child) Stopping() bool                              { return false }
func (c *Child) Done() <-chan struct{}                       { return nil }
func (c *Child) Result() Result                              { return Result{} }

// Pending is a prepared job (Linux only).
type Pending struct{}

// Prepare is not supported on this OS.
func Prepare(spec Spec, opts ...Option) (*Pending, error) { return nil, errUnsupported }

func (p *Pending) Go(extraEnv []string) (*Child, error) { return nil, errUnsupported }
func (p *Pending) Abort()                               {}
