package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// Pings speak healthchecks.io's protocol (as runitor does): URL/start when
// the job starts, URL on success, URL/<exit code> on failure (URL/fail for
// a job stopped by cronguard that still exited 0), each with the run's id
// as rid so that the service pairs start and end. Only the host that ran
// the job pings: a skipped run sends nothing.
const (
	// pingBound is the most a ping may hold the run's end: every try,
	// the wait for a start ping still in flight included.
	pingBound = 5 * time.Second
	// pingTries within pingBound; a try gets at most pingTryTimeout.
	pingTries      = 3
	pingTryTimeout = 2 * time.Second
	// pingBodyLimit is how much of the output's tail a ping carries:
	// what healthchecks.io keeps of a body (and runitor's default).
	pingBodyLimit = 10_000
	// pingStartWait is how long the end waits for a start ping still in
	// flight before it gives up on it (so the end ping cannot overtake
	// it on a slow but working server).
	pingStartWait = 2 * time.Second
)

// pingRetryPause is the pause before a try after a quick failure
// (connection refused, 5xx); index: the try that failed.
var pingRetryPause = [...]time.Duration{200 * time.Millisecond, 500 * time.Millisecond}

// pinger pings one job's check.
type pinger struct {
	base      *url.URL
	rid       string
	log       zerolog.Logger
	helper    string // cronguard-ping, or "" when not found (helperErr)
	helperErr error
	failures  atomic.Int64
	started   chan struct{} // closed when the start ping is done
	cancel    context.CancelFunc
}

// setupPinger reads --ping, --no-ping and the config's ping_url.
func (e *runEnv) setupPinger() error {
	raw := e.o.ping
	if raw == "" {
		raw = e.st.local.PingURL
	}
	if raw == "" || e.o.noPing {
		return nil
	}
	u, err := expandPingURL(raw, e.lockName)
	if err != nil {
		return err
	}
	e.pinger = newPinger(u, e.runID, e.log)
	return nil
}

// expandPingURL substitutes {lock} (path-escaped) and checks the result.
func expandPingURL(raw, lockName string) (*url.URL, error) {
	s := strings.ReplaceAll(raw, "{lock}", url.PathEscape(lockName))
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("ping URL %q: %v", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("ping URL %q: want http:// or https:// and a host", raw)
	}
	return u, nil
}

// pingerName sends the pings: cronguard execs it rather than linking
// net/http and TLS, which every cron run would pay for.
const pingerName = "cronguard-ping"

// PingerInstallPath is where cronguard's .deb installs it.
const PingerInstallPath = "/usr/lib/cronguard/" + pingerName

func newPinger(u *url.URL, runID string, log zerolog.Logger) *pinger {
	p := &pinger{base: u, rid: runUUID(runID), log: log}
	// Not found: every ping fails, each logged and counted; the run goes on.
	p.helper, p.helperErr = findHelper(pingerName, PingerInstallPath)
	return p
}

// runUUID maps a run id to the UUID form healthchecks.io wants for rid.
func runUUID(runID string) string {
	s := sha256.Sum256([]byte(runID))
	s[6] = s[6]&0x0f | 0x40 // version 4 layout (random-looking)
	s[8] = s[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", s[0:4], s[4:6], s[6:8], s[8:10], s[10:16])
}

// endpoint is base with "/"+suffix added to its path (a query such as
// ?create=1 kept) and rid added to the query.
func (p *pinger) endpoint(suffix string) string {
	u := *p.base
	if suffix != "" {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/" + suffix
		if u.RawPath != "" {
			u.RawPath = strings.TrimSuffix(u.RawPath, "/") + "/" + suffix
		}
	}
	q := u.Query()
	q.Set("rid", p.rid)
	u.RawQuery = q.Encode()
	return u.String()
}

// start sends the start ping in the background: the job does not wait.
func (p *pinger) start() {
	ctx, cancel := context.WithTimeout(context.Background(), pingBound)
	p.cancel = cancel
	p.started = make(chan struct{})
	go func() {
		defer close(p.started)
		defer cancel()
		p.send(ctx, "start", "start", nil)
	}()
}

// finish sends the end ping: success, or failure with the exit code. It
// returns within pingBound.
func (p *pinger) finish(success bool, code int, body []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), pingBound)
	defer cancel()
	if p.started != nil {
		t := time.NewTimer(pingStartWait)
		select {
		case <-p.started:
		case <-t.C:
			p.cancel()
			<-p.started
		}
		t.Stop()
	}
	kind, suffix := "success", ""
	if !success {
		kind, suffix = "fail", "fail"
		if code != 0 {
			suffix = strconv.Itoa(code)
		}
	}
	p.send(ctx, kind, suffix, body)
}

// send pings, retrying a network error or a 5xx while ctx allows; a
// failure is logged (one warning) and counted.
func (p *pinger) send(ctx context.Context, kind, suffix string, body []byte) {
	target := p.endpoint(suffix)
	began := time.Now()
	var err error
	for try := 0; try < pingTries; try++ {
		var retry bool
		retry, err = p.try(ctx, target, body)
		if err == nil {
			p.log.Debug().Str("ping", kind).Int("tries", try+1).Dur("took_ms", time.Since(began)).Msg("ping sent")
			return
		}
		if !retry || ctx.Err() != nil || try+1 == pingTries {
			break
		}
		t := time.NewTimer(pingRetryPause[try])
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
		if ctx.Err() != nil {
			break
		}
	}
	p.failures.Add(1)
	p.log.Warn().Str("event", "ping_failed").Str("ping", kind).Str("url", redactURL(target)).
		Dur("took_ms", time.Since(began)).Err(err).Msg("ping failed")
}

// try sends one request through cronguard-ping; retry says whether
// another try may help.
func (p *pinger) try(ctx context.Context, target string, body []byte) (retry bool, err error) {
	if p.helperErr != nil {
		return false, p.helperErr
	}
	ctx, cancel := context.WithTimeout(ctx, pingTryTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.helper, pingTryTimeout.String(), target)
	cmd.Stdin = bytes.NewReader(body)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	why := strings.TrimSpace(stderr.String())
	var ee *exec.ExitError
	switch {
	case err == nil:
		return false, nil
	case errors.As(err, &ee) && ee.ExitCode() == 3:
		return false, errors.New(why)
	case errors.As(err, &ee) && ee.ExitCode() == 1:
		return true, errors.New(why)
	case ctx.Err() != nil:
		return true, fmt.Errorf("no answer within %v", pingTryTimeout)
	}
	return false, fmt.Errorf("%s: %v %s", pingerName, err, why)
}

// redactURL keeps a ping key out of the log: only the scheme and host.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable)"
	}
	return u.Scheme + "://" + u.Host + "/…"
}
