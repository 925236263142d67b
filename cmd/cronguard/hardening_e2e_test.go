package main

// Run correctness under faults: what a run that holds nothing, waits, or is
// signalled does when ZooKeeper goes away or the fleet config changes.

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/cronguard/cronguard/internal/zktest"
)

func proxyTo(t *testing.T, srv *zktest.Server) *zktest.Proxy {
	t.Helper()
	px, err := zktest.NewProxy(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { px.Close() })
	return px
}

// A --no-lock run holds nothing, so losing ZooKeeper (past T/3, past the
// session's expiry) never stops it; once contact is back, unassigning the
// host stops it as usual.
func TestE2E_NoLockSurvivesOutageThenStopsWhenUnassigned(t *testing.T) {
	for _, withGroup := range []bool{true, false} {
		name := "with group"
		if !withGroup {
			name = "without group"
		}
		t.Run(name, func(t *testing.T) {
			srv, e := isolatedEnv(t)
			px := proxyTo(t, srv)
			const T = 1500 * time.Millisecond
			cfg := e.configFile("nolock.json", px.Addr(), T)
			job, childFile, gcFile, _ := e.longJob("job")
			args := []string{"run", "--no-lock"}
			if withGroup {
				args = append(args, "-g", "g")
			}
			p := e.startWithConfig(cfg, "hostA", append(args, "--", job)...)
			child, gc := jobPids(t, childFile, gcFile)

			px.Blackhole()
			time.Sleep(2*T + time.Second) // past T/3, and the server expires the session
			px.Heal()
			time.Sleep(time.Second)
			if !pidAlive(child) || !pidAlive(gc) {
				t.Fatalf("a ZooKeeper outage stopped a --no-lock job; log:\n%s", p.logText())
			}
			if evs := p.events("stop"); len(evs) > 0 {
				t.Fatalf("stopped: %v", evs)
			}
			if !withGroup {
				syscall.Kill(p.cmd.Process.Pid, syscall.SIGTERM)
				if code := p.wait(t, 10*time.Second); code != 143 {
					t.Errorf("exit %d after SIGTERM, want 143", code)
				}
				return
			}
			e.setFleet(`{"groups": {"g": "hostB"}}`)
			if code := p.wait(t, 10*time.Second); code != 143 {
				t.Errorf("exit %d, want 143 (stopped, SIGTERM)", code)
			}
			if ev := p.mustEvent(t, "stop"); ev["reason"] != "ineligible" {
				t.Errorf("stop reason %v, want ineligible", ev["reason"])
			}
		})
	}
}

// A host unassigned while its run waits for the lock never starts the job:
// the run skips (ineligible) when the lock comes free.
func TestE2E_UnassignedWhileWaitingNeverStarts(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(`{"groups": {"g": ["hostA", "hostB"]}}`)
	holderJob, childFile, gcFile, _ := e.longJob("holder")
	holder := e.start("hostB", "run", "-g", "g", "--lock", "job", "--", holderJob)
	jobPids(t, childFile, gcFile)

	marker := filepath.Join(e.dir, "ran")
	job := e.script("job", "touch "+marker)
	waiter := e.start("hostA", "run", "-g", "g", "--lock", "job", "--wait", "30s", "--", job)
	deadline := time.Now().Add(10 * time.Second)
	for len(waiter.events("skip")) == 0 && !e.queued("job") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	e.setFleet(`{"groups": {"g": ["hostB"]}}`)
	time.Sleep(200 * time.Millisecond)
	syscall.Kill(holder.cmd.Process.Pid, syscall.SIGTERM)
	holder.wait(t, 10*time.Second)

	if code := waiter.wait(t, 20*time.Second); code != 0 {
		t.Errorf("waiter exit %d, want 0 (skipped); stderr: %s", code, waiter.stderr.String())
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatalf("the unassigned host started the job; log:\n%s", waiter.logText())
	}
	if ev := waiter.mustEvent(t, "skip"); ev["reason"] != "ineligible" {
		t.Errorf("skip reason %v, want ineligible", ev["reason"])
	}
	if got := waiter.stderr.String(); got != "" {
		t.Errorf("a skip wrote to stderr: %q", got)
	}
}

// queued reports whether a --wait waiter for lock is in the lock queue.
func (e *env) queued(lock string) bool {
	kids, _, err := e.conn.Children(e.prefix + "/queues/_locks")
	if err != nil {
		return false
	}
	for _, k := range kids {
		if len(k) > len(lock) && k[:len(lock)+1] == lock+"-" {
			return true
		}
	}
	return false
}

// A stop signal ends a wait within a second, even while ZooKeeper does not
// answer; --wait bounds the whole wait in a partition too.
func TestE2E_WaitsAreBoundedAndInterruptible(t *testing.T) {
	srv, e := isolatedEnv(t)
	holderJob, childFile, gcFile, _ := e.longJob("holder")
	holder := e.start("hostA", "run", "-g", "g", "--lock", "job", "--", holderJob)
	jobPids(t, childFile, gcFile)
	defer syscall.Kill(holder.cmd.Process.Pid, syscall.SIGTERM)

	const T = 4 * time.Second
	for _, tc := range []struct {
		name string
		sig  syscall.Signal
		wait string
	}{
		{"SIGTERM in a partition", syscall.SIGTERM, "60s"},
		{"SIGHUP in a partition", syscall.SIGHUP, "60s"},
		{"SIGINT in a partition", syscall.SIGINT, "60s"},
		{"SIGQUIT in a partition", syscall.SIGQUIT, "60s"},
		{"--wait ends in a partition", 0, "2s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The waiter of the last case left its entry to its session's
			// expiry (its link was cut): let it go first.
			for gone := time.Now().Add(3 * T); e.queued("job") && time.Now().Before(gone); {
				time.Sleep(50 * time.Millisecond)
			}
			px := proxyTo(t, srv)
			cfg := e.configFile("wait.json", px.Addr(), T)
			marker := filepath.Join(e.dir, "ran")
			job := e.script("job", "touch "+marker)
			start := time.Now()
			w := e.startWithConfig(cfg, "hostA", "run", "-g", "g", "--lock", "job", "--wait", tc.wait, "--", job)
			deadline := time.Now().Add(10 * time.Second)
			for !e.queued("job") && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			px.Blackhole()
			time.Sleep(300 * time.Millisecond)
			want := 0
			var sent time.Time
			if tc.sig != 0 {
				sent = time.Now()
				syscall.Kill(w.cmd.Process.Pid, tc.sig)
				want = 128 + int(tc.sig)
			}
			code := w.wait(t, 30*time.Second)
			if code != want {
				t.Errorf("exit %d, want %d; stderr: %s\nlog:\n%s", code, want, w.stderr.String(), w.logText())
			}
			if tc.sig != 0 {
				if el := time.Since(sent); el > time.Second {
					t.Errorf("the wait ended %v after %v, want within a second; log:\n%s", el, tc.sig, w.logText())
				}
			} else if el := time.Since(start); el > 2*time.Second+time.Second {
				t.Errorf("--wait 2s ended after %v", el)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Error("the job ran")
			}
			px.Heal()
		})
	}
}

// A --wait waiter whose session expires keeps waiting within its budget: a
// new session, a new place in the queue, and the job runs once the lock is
// free.
func TestE2E_WaiterSurvivesSessionExpiry(t *testing.T) {
	srv, e := isolatedEnv(t)
	holderJob, childFile, gcFile, _ := e.longJob("holder")
	holder := e.start("hostA", "run", "-g", "g", "--lock", "job", "--", holderJob)
	jobPids(t, childFile, gcFile)

	px := proxyTo(t, srv)
	const T = 1500 * time.Millisecond
	cfg := e.configFile("waiter.json", px.Addr(), T)
	marker := filepath.Join(e.dir, "ran")
	job := e.script("job", "touch "+marker)
	w := e.startWithConfig(cfg, "hostA", "run", "-g", "g", "--lock", "job", "--wait", "30s", "--", job)
	deadline := time.Now().Add(10 * time.Second)
	for !e.queued("job") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	px.Blackhole()
	time.Sleep(T + 1500*time.Millisecond) // the server expires the waiter's session
	px.Heal()
	time.Sleep(2 * time.Second)
	syscall.Kill(holder.cmd.Process.Pid, syscall.SIGTERM)
	holder.wait(t, 10*time.Second)

	if code := w.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("waiter exit %d, want 0; stderr: %s\nlog:\n%s", code, w.stderr.String(), w.logText())
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("the waiter never ran the job; log:\n%s", w.logText())
	}
	if got := w.stderr.String(); got != "" {
		t.Errorf("stderr: %q", got)
	}
}

// Leases held on a dead link are left to the session's expiry: cronguard
// exits soon after its job instead of waiting T per lease.
func TestE2E_DeadLinkReleaseDoesNotHoldCron(t *testing.T) {
	srv, e := isolatedEnv(t)
	e.writeFleet(`{"groups": {"g": "hostA"}, "resources": ["r1", "r2"]}`)
	px := proxyTo(t, srv)
	const T = 2 * time.Second
	// connect_timeout 1s: the run record's try at a fresh session is
	// bounded by it, and it must not hide the release's own cost.
	cfg := filepath.Join(e.dir, "release.json")
	body := fmt.Sprintf(`{"zkhosts": %q, "prefix": %q, "session_timeout": 2, "connect_timeout": 1, "state_dir": %q}`,
		px.Addr(), e.prefix, filepath.Join(e.dir, "state"))
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	job, childFile, gcFile, _ := e.longJob("job")
	p := e.startWithConfig(cfg, "hostA", "run", "-g", "g", "--lease", "r1=1:2", "--lease", "r2=1:2",
		"--kill-grace", "100ms", "--", job)
	child, gc := jobPids(t, childFile, gcFile)
	px.Blackhole()
	died, ok := deathWatch([]int{child, gc}, 3*T)
	if !ok {
		t.Fatal("job not fenced")
	}
	p.wait(t, 30*time.Second)
	exited := time.Now()
	if el := exited.Sub(died); el > T {
		t.Errorf("cronguard exited %v after its job died on a dead link, want under T = %v (connect_timeout 1s); log:\n%s", el, T, p.logText())
	}
	t.Logf("job dead -> cronguard exit: %v", exited.Sub(died).Round(time.Millisecond))
}
