package zktest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Ensemble is a ZooKeeper quorum of n servers with myids 1..n on loopback,
// each its own JVM, so members can be killed, restarted and frozen
// independently to exercise leader election and failover.
type Ensemble struct {
	o       options
	dir     string
	servers []*Server

	closeOnce sync.Once
	closeErr  error
}

// StartEnsemble starts an n-server ensemble (n >= 1; a 1-server ensemble
// runs in quorum mode with itself as leader) and waits until every server
// reports a Mode and exactly one is leader. The caller must Close it. ctx
// bounds the start-up only.
func StartEnsemble(ctx context.Context, n int, opts ...Option) (*Ensemble, error) {
	if n < 1 {
		return nil, fmt.Errorf("zktest: ensemble size %d < 1", n)
	}
	if err := Available(); err != nil {
		return nil, err
	}
	o := buildOptions(opts)
	ctx, cancel := startContext(ctx, &o)
	defer cancel()
	var lastErr error
	for attempt := 1; attempt <= 3; attempt++ {
		e, err := newEnsemble(o, n)
		if err != nil {
			return nil, err
		}
		began := time.Now()
		err = e.startAll(ctx)
		if err == nil {
			o.log("zktest: %d-server ZooKeeper ensemble %s ready in %v", n, e.Addrs(), time.Since(began).Round(time.Millisecond))
			return e, nil
		}
		conflict := false
		for _, s := range e.servers {
			conflict = conflict || s.bindConflict()
		}
		e.Close()
		lastErr = err
		if !conflict || ctx.Err() != nil {
			break
		}
		o.log("zktest: port conflict starting ZooKeeper ensemble, retrying with new ports")
	}
	return nil, lastErr
}

func newEnsemble(o options, n int) (*Ensemble, error) {
	ports, err := freePorts(3 * n)
	if err != nil {
		return nil, err
	}
	dir, err := makeTempDir("zktest-ensemble-")
	if err != nil {
		return nil, err
	}
	e := &Ensemble{o: o, dir: dir}
	for i := 0; i < n; i++ {
		e.servers = append(e.servers, &Server{
			o:            o,
			id:           i + 1,
			dir:          filepath.Join(dir, fmt.Sprintf("zk%d", i+1)),
			ens:          e,
			clientPort:   ports[3*i],
			peerPort:     ports[3*i+1],
			electionPort: ports[3*i+2],
		})
	}
	for _, s := range e.servers {
		if err := s.writeConfig(e.servers); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	return e, nil
}

// startAll spawns every JVM, then waits for the quorum; unlike WaitReady a
// member that exits is an error rather than being ignored.
func (e *Ensemble) startAll(ctx context.Context) error {
	for _, s := range e.servers {
		s.lifeMu.Lock()
		err := s.spawn()
		s.lifeMu.Unlock()
		if err != nil {
			return err
		}
	}
	return e.waitReady(ctx, true)
}

// Servers returns the members in myid order (index i has myid i+1).
func (e *Ensemble) Servers() []*Server { return append([]*Server(nil), e.servers...) }

// Addrs returns the comma-separated client addresses of all members, the
// connect string clients use.
func (e *Ensemble) Addrs() string {
	addrs := make([]string, len(e.servers))
	for i, s := range e.servers {
		addrs[i] = s.Addr()
	}
	return strings.Join(addrs, ",")
}

// AddrList returns the client addresses of all members, as zk.Connect wants
// them.
func (e *Ensemble) AddrList() []string { return strings.Split(e.Addrs(), ",") }

// live returns the members that can answer: running and not frozen.
func (e *Ensemble) live() []*Server {
	var live []*Server
	for _, s := range e.servers {
		if s.Running() && !s.Frozen() {
			live = append(live, s)
		}
	}
	return live
}

// Leader returns the live (running, not frozen) member that currently
// reports Mode leader. It is an error if there is none (e.g. during an
// election) or more than one (e.g. a just-thawed old leader that has not
// yet noticed it was replaced).
func (e *Ensemble) Leader() (*Server, error) {
	var leaders []*Server
	for _, s := range e.live() {
		if m, err := s.Mode(); err == nil && m == "leader" {
			leaders = append(leaders, s)
		}
	}
	switch len(leaders) {
	case 1:
		return leaders[0], nil
	case 0:
		return nil, errors.New("zktest: no live server reports Mode: leader")
	default:
		return nil, fmt.Errorf("zktest: %d servers report Mode: leader: %v", len(leaders), leaders)
	}
}

// Followers returns the live members that currently report Mode follower.
func (e *Ensemble) Followers() []*Server {
	var fs []*Server
	for _, s := range e.live() {
		if m, err := s.Mode(); err == nil && m == "follower" {
			fs = append(fs, s)
		}
	}
	return fs
}

// WaitReady waits until every live member (running and not frozen; killed,
// stopped and frozen members are ignored) reports a Mode and exactly one of
// them is leader. Use it after killing, freezing or restarting members.
func (e *Ensemble) WaitReady(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = startContext(ctx, &e.o)
		defer cancel()
	}
	return e.waitReady(ctx, false)
}

func (e *Ensemble) waitReady(ctx context.Context, all bool) error {
	began := time.Now()
	for {
		// Probe all live members in parallel, so one slow or hung probe
		// (see Server.waitReady) costs at most probeTimeout per round.
		states := make([]string, len(e.servers))
		modes := make([]string, len(e.servers))
		errs := make([]error, len(e.servers))
		var wg sync.WaitGroup
		for i, s := range e.servers {
			if !s.Running() {
				if all {
					return s.exitError(s.currentProc())
				}
				states[i] = fmt.Sprintf("%v=down", s)
				continue
			}
			if s.Frozen() {
				states[i] = fmt.Sprintf("%v=frozen", s)
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				pctx, cancel := context.WithTimeout(ctx, probeTimeout)
				defer cancel()
				modes[i], errs[i] = s.modeCtx(pctx)
				if errs[i] != nil {
					states[i] = fmt.Sprintf("%v=%v", s, errs[i])
				} else {
					states[i] = fmt.Sprintf("%v=%s", s, modes[i])
				}
			}()
		}
		wg.Wait()
		ok := true
		leaders := 0
		for i := range e.servers {
			if errs[i] != nil {
				ok = false
			}
			if modes[i] == "leader" {
				leaders++
			}
		}
		if ok && leaders == 1 {
			return nil
		}
		select {
		case <-ctx.Done():
			var logs strings.Builder
			for _, s := range e.servers {
				logs.WriteString("\n")
				logs.WriteString(s.logTailBlock())
			}
			return fmt.Errorf("zktest: ensemble not ready after %v: %w; %d leader(s): %s%s",
				time.Since(began).Round(time.Millisecond), ctx.Err(), leaders, strings.Join(states, ", "), logs.String())
		case <-time.After(probeInterval):
		}
	}
}

// Close kills every member and removes the ensemble's directory. It is
// idempotent.
func (e *Ensemble) Close() error {
	e.closeOnce.Do(func() {
		var wg sync.WaitGroup
		errs := make([]error, len(e.servers))
		for i, s := range e.servers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = s.Close()
			}()
		}
		wg.Wait()
		errs = append(errs, os.RemoveAll(e.dir))
		e.closeErr = errors.Join(errs...)
	})
	return e.closeErr
}
