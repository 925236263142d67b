package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/cronguard/cronguard/config"
	"github.com/cronguard/cronguard/session"
	"github.com/cronguard/cronguard/supervise"
)

// Reasons a run fails before its job starts: the reason label of
// cronguard_start_failures_total and failed_before_start in the run record.
const (
	startNotFound      = "not_found"      // 127: the command does not exist
	startNotExecutable = "not_executable" // 126
	startZKUnreachable = "zk_unreachable" // 125: no session with ZooKeeper
	startConfig        = "config"         // 125: the fleet config is missing, invalid or lacks the group
)

// startFailure is a run that failed before its job started. record says
// whether its entry can go into the run record (not when the prefix is
// missing or the record cannot be read: the write would fail too).
type startFailure struct {
	reason string
	record bool
	err    error
}

func (s *startFailure) Error() string { return s.err.Error() }
func (s *startFailure) Unwrap() error { return s.err }

// countStartFailure adds the failure to the metrics (metrics_dir).
func (e *runEnv) countStartFailure(reason string) {
	e.writeMetrics(func(m *runMetrics) { m.startFailures[reason]++ })
}

// preStartEntry is the run-record entry of a run whose job never started.
func (e *runEnv) preStartEntry(code int, reason string, err error) runEntry {
	now := time.Now().UTC()
	msg := oneLine(err.Error())
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return runEntry{Host: e.st.hostname, RunID: e.runID, Start: e.began.UTC(), End: now, Exit: code,
		DurationMS: now.Sub(e.began).Milliseconds(), FailedBeforeStart: reason, Error: msg}
}

// notStarted ends a run whose command cannot be executed (126/127), found
// before contacting ZooKeeper. The exit stays the shell's; the failure is
// counted, and recorded in the run record when ZooKeeper is reachable and
// this host is eligible (a host outside the job's group records nothing:
// the script may rightly be absent there). That costs a session, on a run
// that failed anyway: a script gone from every host, failing every minute,
// is what the operator must see in `status`.
func (e *runEnv) notStarted(ctx context.Context, code int, err error) error {
	reason := startNotFound
	if code == supervise.ExitNotExecutable {
		reason = startNotExecutable
	}
	fail := &exitError{code: code, err: err}
	e.countStartFailure(reason)
	sess, derr := e.dial(ctx)
	if derr != nil {
		e.log.Info().Err(derr).Str("event", "zk").Msg("cannot record the failure to start in the run record: ZooKeeper unreachable")
		return fail
	}
	defer sess.Close()
	e.setSession(sess)
	e.contactBack()
	var data []byte
	gerr := sess.DoCtx(ctx, func() (err error) { data, _, err = sess.Conn().Get(e.st.root); return err })
	if gerr != nil {
		e.log.Info().Err(gerr).Msg("cannot read the fleet config: the failure to start is not recorded")
		return fail
	}
	if e.o.group != "" {
		fleet, perr := config.ParseFleet(data)
		if perr == nil {
			if ok, _ := fleet.Eligible(e.o.group, e.st.hostname); !ok {
				e.log.Debug().Msg("not eligible here: the failure to start is not recorded")
				return fail
			}
		}
	}
	e.recordRun(sess, e.preStartEntry(code, reason, err), nil)
	return fail
}

// failedBeforeStart handles the error of the run's first contact with
// ZooKeeper (connect): counted by reason; a config failure is recorded (the
// session is up); an unreachable ZooKeeper cannot be recorded, and is
// loud once per outage window on this host (outage).
func (e *runEnv) failedBeforeStart(err error) error {
	var sf *startFailure
	if !errors.As(err, &sf) {
		return err
	}
	e.countStartFailure(sf.reason)
	if sf.reason == startZKUnreachable {
		return e.outage(err)
	}
	if sess := e.session(); sess != nil {
		if sf.record {
			e.recordRun(sess, e.preStartEntry(ExitOwnFailure, sf.reason, sf.err), nil)
		}
		sess.Close()
	}
	return err
}

// outageQuietFor is how long after a loud "ZooKeeper unreachable" failure
// the same failure of any job on this host prints nothing (cron mails what
// is printed: 200 jobs would mail every minute). It is logged and counted
// all the same, and the exit stays 125.
const outageQuietFor = time.Hour

// outageState is <state_dir>/outage, shared by every job of the host.
type outageState struct {
	Since    time.Time `json:"since"`     // the first failure of this outage
	LastLoud time.Time `json:"last_loud"` // the last failure that was printed
	Quiet    int       `json:"quiet"`     // failures since Since that printed nothing
}

func (e *runEnv) outagePath() string {
	if e.st.local.StateDir == "" {
		return ""
	}
	return filepath.Join(e.st.local.StateDir, "outage")
}

// outage decides whether this "unreachable" failure is loud (the first
// within outageQuietFor on this host: the error as ever, one line) or
// quiet (logged with quiet=true, nothing on stderr). Without a writable
// state_dir every failure is loud.
func (e *runEnv) outage(err error) error {
	path := e.outagePath()
	if path == "" {
		return err
	}
	now := time.Now()
	loud := true
	var st outageState
	serr := withOutageState(path, true, func(s *outageState) bool {
		if s.Since.IsZero() {
			s.Since = now
		}
		if !s.LastLoud.IsZero() && now.After(s.LastLoud) && now.Sub(s.LastLoud) < outageQuietFor {
			loud = false
			s.Quiet++
		} else {
			s.LastLoud = now
		}
		st = *s
		return true
	})
	if serr != nil {
		e.log.Debug().Err(serr).Msg("cannot keep the outage state: every failure to reach ZooKeeper is printed")
		return err
	}
	if loud {
		return fmt.Errorf("%w (further failures to reach ZooKeeper on this host print nothing for %s; they are logged and counted, state in %s)",
			err, shortDuration(outageQuietFor), path)
	}
	e.sink.Error().Str("event", "error").Bool("quiet", true).Int("quiet_failures", st.Quiet).
		Time("outage_since", st.Since).Err(err).Msg("error")
	return exitCode(ExitOwnFailure)
}

// contactBack runs once a session is up: when an outage left its state,
// it ends it, and when failures were quiet says so, once for the host (the
// run that removes the state).
func (e *runEnv) contactBack() {
	if e.contactChecked {
		return
	}
	e.contactChecked = true
	path := e.outagePath()
	if path == "" {
		return
	}
	var st outageState
	err := withOutageState(path, false, func(s *outageState) bool {
		st = *s
		return false
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		e.log.Debug().Err(err).Msg("cannot clear the outage state")
		return
	}
	if st.Quiet > 0 {
		e.log.Warn().Str("event", "zk").Int("quiet_failures", st.Quiet).Time("outage_since", st.Since).
			Msgf("ZooKeeper reachable again after %d quiet failures since %s", st.Quiet, st.Since.Format(time.RFC3339))
	}
}

// withOutageState reads the state under an exclusive flock, calls change,
// and writes the state back when it returns true, or removes the file when
// it returns false (emptied first, so a run that opened it before the
// removal reads nothing). create says whether a missing file is made;
// otherwise a missing file is fs.ErrNotExist and costs one failed open.
func withOutageState(path string, create bool, change func(*outageState) bool) error {
	for attempt := 0; attempt < 10; attempt++ {
		flags := os.O_RDWR
		if create {
			flags |= os.O_CREATE
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
		}
		f, err := os.OpenFile(path, flags, 0o644)
		if err != nil {
			return err
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			return err
		}
		// Removed or replaced between the open and the lock: open again.
		fi, ferr := f.Stat()
		pi, perr := os.Stat(path)
		if ferr != nil || perr != nil || !os.SameFile(fi, pi) {
			f.Close()
			if !create && perr != nil {
				return perr
			}
			continue
		}
		err = func() error {
			defer f.Close()
			data, err := io.ReadAll(f)
			if err != nil {
				return err
			}
			var s outageState
			if len(data) > 0 {
				_ = json.Unmarshal(data, &s) // damaged: start afresh
			}
			if !create && len(data) == 0 {
				return os.ErrNotExist
			}
			keep := change(&s)
			if err := f.Truncate(0); err != nil {
				return err
			}
			if !keep {
				return os.Remove(path)
			}
			out, _ := json.Marshal(s)
			_, err = f.WriteAt(append(out, '\n'), 0)
			return err
		}()
		return err
	}
	return fmt.Errorf("%s: replaced too often while locking it", path)
}

// connectFailure classifies an error of the run's first contact with
// ZooKeeper: no session, or the fleet config's fault.
func connectFailure(err error, reason string, record bool) error {
	if err == nil {
		return nil
	}
	var sf *startFailure
	var ee *exitError
	if errors.As(err, &sf) || errors.As(err, &ee) {
		return err
	}
	if reason == startConfig && !session.Answered(err) {
		reason, record = startZKUnreachable, false
	}
	return &startFailure{reason: reason, record: record, err: err}
}

// shortDuration is d without zero minutes and seconds: 1h, not 1h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
