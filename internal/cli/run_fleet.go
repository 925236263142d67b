package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/rs/zerolog"

	"github.com/cronguard/cronguard/config"
	"github.com/cronguard/cronguard/session"
)

// dial opens a session with the local config's settings.
func (e *runEnv) dial(ctx context.Context) (*session.Session, error) {
	l := e.st.local
	opts := []session.Option{
		session.WithLogger(e.log), session.WithSessionTimeout(l.SessionTimeout),
		session.WithConnectTimeout(l.ConnectTimeout), session.WithFenceSlack(l.FenceSlack),
	}
	if l.Auth != "" {
		opts = append(opts, session.WithAuth("digest", l.Auth))
	}
	return session.Dial(ctx, l.Servers, opts...)
}

// connect opens the run's session and reads the fleet config (checkEligible).
func (e *runEnv) connect(ctx context.Context) error {
	sess, err := e.dial(ctx)
	if err != nil {
		if ctx.Err() != nil && e.signals.received() != 0 {
			return e.skipSignal()
		}
		return &startFailure{reason: startZKUnreachable, err: err}
	}
	e.setSession(sess)
	e.contactBack()
	e.record = nil
	if e.sched != nil {
		// Read the record along with the fleet config (pipelined: no
		// round trip of its own): the slot claim starts from it.
		e.record = prefetchRunRecord(sess, e.st.root, e.lockName)
	}
	return e.checkEligible(ctx, sess)
}

// reconnect replaces an expired session: close it, open a new one, read
// the fleet config again (the host may have been unassigned meanwhile).
func (e *runEnv) reconnect(ctx context.Context) error {
	e.session().Close()
	return e.connect(ctx)
}

func (e *runEnv) session() *session.Session {
	e.sessMu.Lock()
	defer e.sessMu.Unlock()
	return e.sess
}

func (e *runEnv) setSession(s *session.Session) {
	e.sessMu.Lock()
	defer e.sessMu.Unlock()
	e.sess = s
}

// checkEligible reads the fleet config with a watch (kept in fleetWatch). It
// returns an error for a missing prefix, an invalid config or an unknown
// group, and a skip when this host is not in the group.
func (e *runEnv) checkEligible(ctx context.Context, sess *session.Session) error {
	var data []byte
	var watch <-chan zk.Event
	prefix := e.st.root
	err := sess.Do(func() (err error) { data, _, watch, err = sess.Conn().GetW(prefix); return err })
	if errors.Is(err, zk.ErrNoNode) {
		return connectFailure(fmt.Errorf("prefix %s does not exist in ZooKeeper: create it with a fleet config", prefix), startConfig, false)
	}
	if err != nil {
		return connectFailure(fmt.Errorf("reading fleet config %s: %w", prefix, err), startConfig, false)
	}
	e.fleetWatch = watch
	if e.o.group == "" && len(e.leases) == 0 {
		return nil
	}
	fleet, err := config.ParseFleet(data)
	if err != nil {
		return connectFailure(fmt.Errorf("fleet config in %s: %w", prefix, err), startConfig, true)
	}
	if len(e.leases) > 0 {
		if e.leaseOrdered, err = e.leaseOrder(fleet); err != nil {
			return connectFailure(err, startConfig, true)
		}
	}
	if e.o.group == "" {
		return nil
	}
	ok, err := fleet.Eligible(e.o.group, e.st.hostname)
	if err != nil {
		return connectFailure(fmt.Errorf("fleet config in %s: %w", prefix, err), startConfig, true)
	}
	e.fleetJudged = true
	if !ok {
		e.inNoGroup = len(groupsOf(fleet, e.st.hostname)) == 0
		if e.inNoGroup {
			e.warnNoGroup(time.Now())
		}
		e.registerJob(ctx)
		return e.skip(reasonIneligible, nil)
	}
	e.inNoGroup = false
	return nil
}

// noGroupWarnEvery bounds the "in no group" warning: once per job per
// hour (cron mails each), remembered by a file's mtime under state_dir.
const noGroupWarnEvery = time.Hour

// warnNoGroup warns that this host is in no group of the fleet config: a
// misconfiguration (an identity that differs from the config's names), not
// the routine skip of a host outside one job's group. At most once per
// noGroupWarnEvery per job when state_dir is set and writable; every run
// otherwise (with the reason).
func (e *runEnv) warnNoGroup(now time.Time) {
	ev := e.log.Warn()
	if dir := e.st.local.StateDir; dir != "" {
		path := filepath.Join(dir, "no-group", metricsFileBase(e.lockName))
		if fi, err := os.Stat(path); err == nil {
			if age := now.Sub(fi.ModTime()); age >= 0 && age < noGroupWarnEvery {
				e.log.Debug().Str("event", "no_group").Msg("this host is in no group of the fleet config (warned less than an hour ago)")
				return
			}
		}
		if err := touchFile(path, now); err != nil {
			ev = ev.AnErr("state_error", err)
		}
	}
	ev.Str("event", "no_group").Str("identity_source", e.st.identity.Source).
		Msgf("host %q is in no group of the fleet config: every job skips here; check the identity (cronguard explain, --hostname / key hostname) or the config (warned at most once an hour per job)", e.st.hostname)
}

// touchFile creates path (and its directory) and sets its mtime to t.
func touchFile(path string, t time.Time) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, []byte(t.UTC().Format(time.RFC3339)+"\n"), 0o644); err != nil {
		return err
	}
	return os.Chtimes(path, t, t)
}

// stillEligible is the check at the moment the job would start. The watch
// set when the config was read fires before the answer to any later request
// of ours arrives (ZooKeeper orders a watch event before the data change is
// visible to its client), so a config that changed while the run waited is
// seen here without a request; only then is it read again.
func (e *runEnv) stillEligible(ctx context.Context) error {
	if e.o.group == "" {
		return nil
	}
	select {
	case <-e.fleetWatch:
	default:
		return nil
	}
	sess := e.session()
	var data []byte
	var watch <-chan zk.Event
	err := sess.DoCtx(ctx, func() (err error) { data, _, watch, err = sess.Conn().GetW(e.st.root); return err })
	if err != nil {
		return fmt.Errorf("reading fleet config %s: %w", e.st.root, err)
	}
	e.fleetWatch = watch
	why, ok := e.eligibleIn(data)
	if !ok {
		return e.skip(reasonIneligible, func(ev *zerolog.Event) *zerolog.Event { return ev.Str("detail", why) })
	}
	return nil
}

// eligibleIn judges a fleet config read while the run goes on: an invalid
// config is logged and ignored (a bad edit must not stop jobs); a removed
// group or a host taken out of it is not eligible, with why.
func (e *runEnv) eligibleIn(data []byte) (why string, ok bool) {
	fleet, err := config.ParseFleet(data)
	if err != nil {
		e.log.Warn().Err(err).Msg("fleet config is invalid; ignored, the job keeps running")
		return "", true
	}
	eligible, err := fleet.Eligible(e.o.group, e.st.hostname)
	switch {
	case errors.Is(err, config.ErrUnknownGroup):
		return "group " + e.o.group + " was removed from the fleet config", false
	case err != nil:
		e.log.Warn().Err(err).Msg("fleet config is invalid; ignored, the job keeps running")
	case !eligible:
		return "host " + e.st.hostname + " is no longer in group " + e.o.group, false
	}
	return "", true
}

// watchFleet re-reads the fleet config on every change and reconnect, and
// reports when this host is no longer eligible. A run that holds nothing
// outlives its session: when it expires, a new one is opened (retried
// until ctx ends) and the config read again.
func (e *runEnv) watchFleet(ctx context.Context, out chan<- string) {
	sess := e.session()
	watch := e.fleetWatch
	for {
		reconnected := sess.Reconnected()
		select {
		case <-ctx.Done():
			return
		case <-sess.Done():
			if !e.holdsNothing() {
				return // the supervisor stops the job
			}
			if sess = e.redialForWatch(ctx); sess == nil {
				return
			}
			watch = nil
		case <-watch:
		case <-reconnected:
		}
		var data []byte
		err := sess.Do(func() (err error) { data, _, watch, err = sess.Conn().GetW(e.st.root); return err })
		if err != nil {
			watch = nil
			if session.Answered(err) {
				e.log.Warn().Err(err).Msg("cannot re-read the fleet config; keeping the last one")
			}
			continue
		}
		if why, ok := e.eligibleIn(data); !ok {
			out <- why
			return
		}
		e.log.Debug().Msg("fleet config read; still eligible")
	}
}

// redialRetry paces new sessions while ZooKeeper cannot be reached; each
// attempt is already bounded by connect_timeout.
const redialRetry = time.Second

// redialForWatch replaces the expired session of a run that holds nothing,
// retrying until ctx ends (nil then).
func (e *runEnv) redialForWatch(ctx context.Context) *session.Session {
	old := e.session()
	e.log.Info().Str("event", "zk").Msg("session expired; the job holds nothing and keeps running: opening a new session to watch the fleet config")
	for {
		s, err := e.dial(ctx)
		if err == nil {
			old.Close()
			e.setSession(s)
			return s
		}
		t := time.NewTimer(redialRetry)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}
