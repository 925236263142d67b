package cli

import (
	"errors"
	"syscall"
	"time"

	"github.com/cronguard/cronguard/lock"
	"github.com/cronguard/cronguard/session"
	"github.com/cronguard/cronguard/supervise"
)

// supervise waits for the child and stops it when the right to run is
// lost. It never calls ZooKeeper: a hung request must not delay a kill.
// A run that holds nothing (no lock, no leases) is not stopped by its
// session's end; watchFleet carries on with a new one.
func (e *runEnv) supervise(child *supervise.Child, sess *session.Session, lk *lock.Lock, ineligible <-chan string) string {
	stopReason := ""
	stop := func(reason, detail string, first syscall.Signal, killBy time.Time) {
		if stopReason == "" {
			stopReason = reason
			e.log.Warn().Str("event", "stop").Str("reason", reason).Str("detail", detail).Msg("stop")
		}
		child.Stop(first, killBy)
	}
	lost := func(err error) {
		var loss *session.Loss
		if !errors.As(err, &loss) {
			loss = &session.Loss{Reason: session.ReasonSessionExpired, Detail: err.Error(), Now: true}
		}
		first := syscall.SIGTERM
		if loss.Now {
			first = syscall.SIGKILL
		}
		stop(string(loss.Reason), loss.Detail, first, loss.KillBy(time.Now(), e.grace))
	}
	var lockLost <-chan struct{}
	if lk != nil {
		lockLost = lk.Lost()
	}
	sessDone := sess.Done()
	if e.holdsNothing() {
		sessDone = nil
	}
	var timeout <-chan time.Time
	if e.o.timeout > 0 {
		t := time.NewTimer(e.o.timeout)
		defer t.Stop()
		timeout = t.C
	}
	for {
		select {
		case <-child.Done():
			return stopReason
		case <-sessDone:
			sessDone = nil
			lost(sess.Err())
		case <-lockLost:
			lockLost = nil
			lost(lk.Err())
		case why := <-ineligible:
			stop(reasonIneligible, why, syscall.SIGTERM, time.Now().Add(e.grace))
		case <-timeout:
			stop(reasonTimeout, "--timeout "+e.o.timeout.String()+" passed", syscall.SIGTERM, time.Now().Add(e.grace))
		case s := <-e.signals.forward:
			if child.Stopping() {
				_ = child.Signal(s)
			}
			stop(reasonSignal, "cronguard got "+s.String(), s, time.Now().Add(e.grace))
		}
	}
}

// finish logs the job's end, records it and returns the run's exit.
func (e *runEnv) finish(child *supervise.Child, stopReason string, record <-chan recordRead) error {
	res := child.Result()
	code := res.ExitCode
	if stopReason == reasonTimeout {
		code = ExitTimeout
	}
	ev := e.log.Info()
	if res.Signal != 0 && stopReason == "" {
		// Killed by someone else (the OOM killer, an operator): cron would
		// mail nothing, so say it on stderr.
		ev = e.log.Warn()
	}
	ev.Str("event", "finish").Int("exit", code).Dur("duration", res.Duration).
		Int64("max_rss_kb", res.MaxRSSKB).Dur("user_cpu", res.UserCPU).Dur("sys_cpu", res.SysCPU).
		Str("stop_reason", stopReason).Msg("finish")
	entry := runEntry{Host: e.st.hostname, RunID: e.runID, Start: child.Started().UTC(),
		End: time.Now().UTC(), Exit: code, DurationMS: res.Duration.Milliseconds(), StopReason: stopReason}
	e.recordRun(e.session(), entry, record)
	e.writeMetrics(func(m *runMetrics) {
		m.runs++
		m.lastStart, m.lastEnd = unixSeconds(entry.Start), unixSeconds(entry.End)
		m.lastDuration, m.lastExit = res.Duration.Seconds(), float64(code)
		if code == 0 {
			m.lastSuccess = m.lastEnd
		}
		if stopReason != "" {
			m.stops[stopReason]++
		}
	})
	return exitCode(code)
}

// recordRun writes the run record, bounded in time: after a partition the
// write may hang until go-zookeeper gives up, and cron should not wait for
// it. A failure is logged and never changes the exit code.
func (e *runEnv) recordRun(sess *session.Session, entry runEntry, prefetched <-chan recordRead) {
	done := make(chan error, 1)
	go func() {
		done <- writeRunRecord(sess, e.st.root, e.lockName, entry, e.st.local.RunsHistory, e.nodeACL(), prefetched)
	}()
	bound := min(sess.Timeout()/3, 5*time.Second)
	select {
	case err := <-done:
		if err != nil {
			e.log.Warn().Err(err).Msg("could not write the run record")
		}
	case <-time.After(bound):
		e.log.Warn().Dur("waited", bound).Msg("could not write the run record: ZooKeeper did not answer")
	}
}
