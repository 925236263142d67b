package cli

import (
	"context"
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
	if stopReason == "" && res.OOMKilled {
		stopReason = reasonOOM
	}
	prof := profileOf(res)
	pingDone := e.endOutput(code == 0 && stopReason == "", code)
	ev := e.log.Info()
	if res.Signal != 0 && (stopReason == "" || stopReason == reasonOOM) {
		// Killed by someone else (the OOM killer, an operator): cron would
		// mail nothing, so say it on stderr.
		ev = e.log.Warn()
	}
	ev.Str("event", "finish").Int("exit", code).Dur("duration_ms", res.Duration).
		Int64("max_rss_kb", res.MaxRSSKB).Dur("user_cpu_ms", res.UserCPU).Dur("sys_cpu_ms", res.SysCPU).
		Int64("peak_memory_kb", prof.PeakMemoryKB).Str("peak_memory_from", prof.PeakMemoryFrom).
		Str("stop_reason", stopReason).Msg("finish")
	entry := runEntry{Host: e.st.hostname, RunID: e.runID, Start: child.Started().UTC(),
		End: time.Now().UTC(), Exit: code, DurationMS: res.Duration.Milliseconds(), StopReason: stopReason,
		runProfile: prof}
	if e.sched != nil {
		slot := e.slot
		entry.Slot = &slot
	}
	e.recordRun(e.session(), entry, record)
	pingFailures := pingDone()
	e.writeMetrics(func(m *runMetrics) {
		m.runs++
		if e.pinger != nil {
			m.pings = true
			m.pingFailures += pingFailures
		}
		m.lastStart, m.lastEnd = unixSeconds(entry.Start), unixSeconds(entry.End)
		m.lastDuration, m.lastExit = res.Duration.Seconds(), float64(code)
		m.lastPeakMemory = float64(prof.PeakMemoryKB) * 1024
		m.lastUserCPU, m.lastSysCPU = res.UserCPU.Seconds(), res.SysCPU.Seconds()
		if code == 0 {
			m.lastSuccess = m.lastEnd
		}
		if stopReason != "" {
			m.stops[stopReason]++
		}
		if e.sched != nil {
			m.lastSlot = unixSeconds(e.slot)
			m.slotsMissed += float64(e.slotsMissed)
		}
	})
	return exitCode(code)
}

// recordRun adds the run to its record, bounded in time (recordBound):
// with the run's session, or a new one when that is gone. Runs that could
// not write theirs earlier on this host (the spool) go into the same
// write. When the write fails the entry is saved to the spool for the next
// run; when that fails too the run is counted as unrecorded. A failure is
// logged (one warning) and never changes the exit code.
func (e *runEnv) recordRun(sess *session.Session, entry runEntry, prefetched <-chan recordRead) {
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), recordBound)
	defer cancel()
	sp := newSpool(e.st.local.StateDir, e.st.root, e.lockName)
	pend, err := sp.pending()
	if err != nil {
		e.log.Warn().Err(err).Msg("cannot read the runs saved by earlier runs; they stay there")
	}
	lost := len(pend.bad)
	if lost > 0 {
		e.log.Warn().Strs("files", pend.bad).Msg("unreadable saved runs: removed, counted as unrecorded")
		_ = sp.remove(pend.bad)
	}
	err = e.writeRecord(ctx, sess, entry, pend.entries, prefetched)
	switch {
	case err == nil:
		e.log.Debug().Dur("took_ms", time.Since(began)).Msg("run record written")
		if len(pend.entries) > 0 {
			e.log.Info().Int("runs", len(pend.entries)).Msg("added runs saved by earlier runs to the run record")
			if err := sp.remove(pend.files); err != nil {
				e.log.Warn().Err(err).Msg("cannot remove saved runs already in the record")
			}
		}
	default:
		if path, serr := sp.save(entry); serr != nil {
			lost++
			e.log.Warn().Err(err).AnErr("save_error", serr).
				Msg("could not write the run record, nor save it for the next run: the run is unrecorded")
		} else {
			e.log.Warn().Err(err).Str("saved", path).
				Msg("could not write the run record: saved, the next run of this job on this host adds it")
		}
	}
	if lost > 0 {
		e.writeMetrics(func(m *runMetrics) { m.unrecorded += float64(lost) })
	}
}
