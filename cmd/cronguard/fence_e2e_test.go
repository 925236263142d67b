package main

// Fencing under faults: the old job is dead before any other host can take
// the lock, and routine blips do not kill healthy jobs.

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cronguard/cronguard/internal/zktest"
)

// configFile writes a local config with the given session timeout.
func (e *env) configFile(name, zk string, sessionTimeout time.Duration) string {
	e.t.Helper()
	p := filepath.Join(e.dir, name)
	// state_dir in the test's own dir: a fenced run saves its record there.
	body := fmt.Sprintf(`{"zkhosts": %q, "prefix": %q, "session_timeout": %g, "connect_timeout": 3, "state_dir": %q}`,
		zk, e.prefix, sessionTimeout.Seconds(), filepath.Join(e.dir, "state"))
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// isolatedEnv gives a test a ZooKeeper of its own (it will be partitioned,
// frozen or killed) with the fleet config written.
func isolatedEnv(t *testing.T) (*zktest.Server, *env) {
	t.Helper()
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	srv := zktest.StartServer(t)
	e := newEnvAt(t, srv.Addr())
	e.writeFleet(fleetAB)
	return srv, e
}

// startWithConfig runs cronguard with a config file instead of --zk/--prefix.
func (e *env) startWithConfig(cfg, host string, args ...string) *proc {
	e.t.Helper()
	logPath := e.newLogPath()
	return e.startArgs(logPath, append([]string{"--config", cfg, "--hostname", host,
		"--log-level", "debug", "--log-file", logPath}, args...)...)
}

// deathWatch polls pids every millisecond and returns when all are dead
// (gone or zombie: a zombie runs no code), with the moment it saw that.
func deathWatch(pids []int, limit time.Duration) (time.Time, bool) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		alive := false
		for _, p := range pids {
			if pidAlive(p) {
				alive = true
				break
			}
		}
		if !alive {
			return time.Now(), true
		}
		time.Sleep(time.Millisecond)
	}
	return time.Time{}, false
}

// partitionTrial: host A runs a job through a proxy, host B waits for the
// same lock directly; A is cut off. It returns B's start minus A's death.
func partitionTrial(t *testing.T, e *env, srv *zktest.Server, T time.Duration, trial int, stubborn bool) time.Duration {
	t.Helper()
	px, err := zktest.NewProxy(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	cfgA := e.configFile(fmt.Sprintf("a%d.json", trial), px.Addr(), T)
	tag := fmt.Sprintf("t%d", trial)
	jobA, childFile, gcFile, _ := e.longJob(tag + "a")
	if stubborn {
		// This job ignores SIGTERM: only the SIGKILL at s + 2T/3 ends it.
		jobA = e.script(tag+"stubborn", fmt.Sprintf("trap '' TERM\nsleep 1000 &\necho $! > %s\necho $$ > %s\nwhile :; do sleep 0.05; done\n", gcFile, childFile))
	}
	bStart := filepath.Join(e.dir, tag+".bstart")
	jobB := e.script(tag+"b", "date +%s%N > "+bStart+"\n")

	a := e.startWithConfig(cfgA, "hostA", "run", "-g", "both", "--lock", "fenced", "--kill-grace", "10s", "--", jobA)
	child, gc := jobPids(t, childFile, gcFile)
	b := e.start("hostB", "run", "-g", "both", "--lock", "fenced", "--wait", "60s", "--", jobB)
	time.Sleep(time.Duration(rand.Int64N(int64(T / 3))))

	px.Blackhole()
	died, ok := deathWatch([]int{child, gc}, 3*T)
	if !ok {
		t.Fatalf("trial %d: A's job still alive %v after the cut; log:\n%s", trial, 3*T, a.logText())
	}
	if code := b.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("trial %d: B exit %d: %s", trial, code, b.stderr.String())
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(waitFile(t, bStart, time.Second)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	margin := time.Unix(0, ns).Sub(died)
	code := a.wait(t, 30*time.Second)
	if code != 137 && code != 143 {
		t.Errorf("trial %d: A exit %d, want 143 or 137", trial, code)
	}
	if stop := a.mustEvent(t, "stop"); stop["reason"] != "fence" {
		t.Errorf("trial %d: A stop reason %v, want fence", trial, stop["reason"])
	}
	if margin <= 0 {
		t.Errorf("trial %d: B's job started %v BEFORE A's job died: double run", trial, -margin)
	}
	return margin
}

// TestE2E_PartitionNeverRunsTwice is the fencing rule's proof: across
// randomized trials, the partitioned host's job (with its grandchild) is
// dead before the other host's job starts.
func TestE2E_PartitionNeverRunsTwice(t *testing.T) {
	trials := 20
	if n, err := strconv.Atoi(os.Getenv("CRONGUARD_SOAK_TRIALS")); err == nil && n > 0 {
		trials = n
	}
	srv, e := isolatedEnv(t)
	const T = 1500 * time.Millisecond
	margins := map[bool][]time.Duration{}
	for i := 0; i < trials; i++ {
		stubborn := i%2 == 1
		margins[stubborn] = append(margins[stubborn], partitionTrial(t, e, srv, T, i, stubborn))
		if t.Failed() {
			break
		}
	}
	for _, stubborn := range []bool{false, true} {
		m := margins[stubborn]
		if len(m) == 0 {
			continue
		}
		slices.Sort(m)
		kind := "job exits on SIGTERM"
		if stubborn {
			kind = "job ignores SIGTERM (SIGKILL at s+2T/3)"
		}
		t.Logf("T=%v, %d trials, %s: margin (B start - A death) min %v, median %v, max %v",
			T, len(m), kind, m[0], m[len(m)/2], m[len(m)-1])
	}
}

// TestE2E_BlipsLeaveJobAlone: a black hole shorter than T/3 and a reset
// healed at once do not touch a running job.
func TestE2E_BlipsLeaveJobAlone(t *testing.T) {
	srv, e := isolatedEnv(t)
	px, err := zktest.NewProxy(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	const T = 4 * time.Second
	cfg := e.configFile("blip.json", px.Addr(), T)
	job, childFile, gcFile, _ := e.longJob("job")
	p := e.startWithConfig(cfg, "hostA", "run", "-g", "g", "--", job)
	child, gc := jobPids(t, childFile, gcFile)
	time.Sleep(500 * time.Millisecond)

	px.Blackhole()
	time.Sleep(T/3 - T/10 - 300*time.Millisecond)
	px.Heal()
	time.Sleep(T / 3)
	px.Reset()
	time.Sleep(T / 2)
	if !pidAlive(child) || !pidAlive(gc) {
		t.Fatalf("a blip killed the job; log:\n%s", p.logText())
	}
	if len(p.events("stop")) > 0 {
		t.Fatalf("a blip stopped the job: %v", p.events("stop"))
	}
	reconnects := 0
	for _, ev := range p.events("zk") {
		if ev["state"] == "reconnected" {
			reconnects++
		}
	}
	if reconnects < 2 {
		t.Errorf("saw %d reconnects to the same session, want 2 (heal, reset)", reconnects)
	}
	if !e.exists(e.lockPath("job")) {
		t.Error("lock node gone after a blip")
	}
}

// TestE2E_FrozenServerStopsJobBeforeExpiry: the server is SIGSTOPped past T;
// the job is stopped, and after SIGCONT nothing runs twice.
func TestE2E_FrozenServerStopsJobBeforeExpiry(t *testing.T) {
	srv, e := isolatedEnv(t)
	const T = 1500 * time.Millisecond
	cfg := e.configFile("frozen.json", srv.Addr(), T)
	job, childFile, gcFile, _ := e.longJob("job")
	p := e.startWithConfig(cfg, "hostA", "run", "-g", "g", "--kill-grace", "10s", "--", job)
	child, gc := jobPids(t, childFile, gcFile)
	if err := srv.Freeze(); err != nil {
		t.Fatal(err)
	}
	frozen := time.Now()
	died, ok := deathWatch([]int{child, gc}, 3*T)
	if !ok {
		srv.Thaw()
		t.Fatal("job alive 3T into the freeze")
	}
	if el := died.Sub(frozen); el > 2*T/3+100*time.Millisecond {
		t.Errorf("job died %v after the freeze, later than 2T/3 = %v", el, 2*T/3)
	}
	time.Sleep(T)
	if err := srv.Thaw(); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, 20*time.Second); code != 143 && code != 137 {
		t.Errorf("exit %d", code)
	}
	// After the thaw, the next run takes the lock and runs once.
	marker := filepath.Join(e.dir, "next.out")
	next := e.script("next", "echo x >> "+marker)
	if q := e.run("hostA", "run", "-g", "g", "--lock", "job", "--wait", "20s", "--", next); q.code != 0 {
		t.Fatalf("next run exit %d: %s", q.code, q.stderr.String())
	}
	if b, _ := os.ReadFile(marker); string(b) != "x\n" {
		t.Errorf("next run output %q", b)
	}
}
