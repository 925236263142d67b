package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
)

// stopSignals end a run: a wait ends at once (skip, exit 128+N), a running
// job gets them forwarded to its whole tree.
var stopSignals = []os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT}

// runSignals is the one place a run learns of stop signals. They are caught
// from the start (Go's default action would kill cronguard between taking
// the lock and starting the job, leaving the lock held until the session
// expires): the first cancels the run's context, which every wait takes,
// and each is also passed on for the supervisor to forward.
type runSignals struct {
	first   atomic.Int32
	forward chan syscall.Signal
	stop    func()
}

// withStopSignals returns ctx cancelled by the first stop signal.
func withStopSignals(parent context.Context) (context.Context, *runSignals) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, stopSignals...)
	rs := &runSignals{forward: make(chan syscall.Signal, 4)}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-ch:
				sig := s.(syscall.Signal)
				rs.first.CompareAndSwap(0, int32(sig))
				cancel(fmt.Errorf("cronguard got %v", sig))
				select {
				case rs.forward <- sig:
				default:
				}
			case <-done:
				return
			}
		}
	}()
	rs.stop = func() {
		signal.Stop(ch)
		close(done)
		cancel(nil)
	}
	return ctx, rs
}

// received is the first stop signal, 0 if none.
func (rs *runSignals) received() syscall.Signal { return syscall.Signal(rs.first.Load()) }
