package main

// Once per slot under faults: ZooKeeper restarted between claims, a host
// cut off in the middle of its claim, a session expiring after the claim,
// and clocks at the edge of the 10 s tolerance. Every job below writes one
// "slot host" line when it starts, so the number of lines per slot is the
// number of runs that started the job.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"
)

// slotRun fires `run -g g --lock job --schedule SPEC --now AT [extra] -- job`
// on host, with the job told its slot and host.
func (e *env) slotRun(host string, slot, at time.Time, spec, job string, extra ...string) *proc {
	e.t.Helper()
	e.extraEnv = []string{"SLOT=" + slot.Format("15:04"), "HOST=" + host}
	defer func() { e.extraEnv = nil }()
	args := append([]string{"run", "-g", "g", "--lock", "job", "--schedule", spec, "--now", at.Format(time.RFC3339Nano)}, extra...)
	return e.start(host, append(args, "--", job)...)
}

// slotJob is a short job writing its "slot host" line to out.
func (e *env) slotJob(out string) string {
	return e.script("job", `echo "$SLOT $HOST" >> `+out+"\n")
}

// wantRan checks a run that should have started the job: exit 0, no skip.
func wantRan(t *testing.T, what string, p *proc) {
	t.Helper()
	if p.code != 0 || p.stderr.String() != "" {
		t.Fatalf("%s: exit %d, stderr %q", what, p.code, p.stderr.String())
	}
	if ev := p.events("skip"); len(ev) > 0 {
		t.Fatalf("%s: skipped (%v), want a run", what, ev[0]["reason"])
	}
}

// wantAlreadyRan checks a run that should have skipped its slot, claimed
// already: exit 0, nothing on stderr, skip already_ran for slot.
func wantAlreadyRan(t *testing.T, what string, p *proc, slot time.Time) {
	t.Helper()
	if p.code != 0 || p.stderr.String() != "" {
		t.Fatalf("%s: exit %d, stderr %q", what, p.code, p.stderr.String())
	}
	ev := p.events("skip")
	if len(ev) != 1 || ev[0]["reason"] != "already_ran" {
		t.Fatalf("%s: skips %v, want one already_ran; log:\n%s", what, ev, p.logText())
	}
	if s, _ := ev[0]["slot"].(string); s != "" {
		if got, err := time.Parse(time.RFC3339Nano, s); err != nil || !got.Equal(slot) {
			t.Errorf("%s: skipped slot %q, want %v", what, s, slot)
		}
	}
}

// wantLines checks how many runs started the job for each slot.
func wantLines(t *testing.T, out string, want map[string]int) {
	t.Helper()
	got := slotLines(t, out)
	for slot, n := range want {
		if len(got[slot]) != n {
			t.Errorf("slot %s ran %d times (%v), want %d", slot, len(got[slot]), got[slot], n)
		}
	}
	for slot, hosts := range got {
		if _, ok := want[slot]; !ok {
			t.Errorf("slot %s ran (%v), want no run", slot, hosts)
		}
	}
}

// 1. ZooKeeper restarted between claims, keeping its data dir: the ledger
// survives it. Slot k runs on A; after the restart B's run of slot k skips
// (already_ran); slot k+1, fired by B and C, runs once. Once with a clean
// stop (SIGTERM), once with a crash (SIGKILL: the claim is only as durable
// as ZooKeeper's transaction log).
func TestE2E_SlotFaultZooKeeperRestarted(t *testing.T) {
	for _, crash := range []bool{false, true} {
		name := "stop"
		if crash {
			name = "kill"
		}
		t.Run(name, func(t *testing.T) {
			srv, e := isolatedEnv(t)
			e.writeFleet(fleetABC)
			out := filepath.Join(e.dir, "runs.out")
			job := e.slotJob(out)
			const spec = "*/5 * * * *"
			k := time.Date(2026, 11, 30, 10, 5, 0, 0, time.Local)
			next := k.Add(5 * time.Minute)

			a := e.slotRun("hostA", k, k.Add(-2*time.Second), spec, job)
			a.wait(t, 30*time.Second)
			wantRan(t, "A, slot k", a)

			if crash {
				if err := srv.Kill(); err != nil {
					t.Fatal(err)
				}
			}
			if err := srv.Restart(context.Background()); err != nil {
				t.Fatal(err)
			}

			b := e.slotRun("hostB", k, k.Add(3*time.Second), spec, job)
			b.wait(t, 30*time.Second)
			wantAlreadyRan(t, "B, slot k after the restart", b, k)

			b = e.slotRun("hostB", next, next.Add(time.Second), spec, job, "--no-lock")
			c := e.slotRun("hostC", next, next.Add(-time.Second), spec, job, "--no-lock")
			b.wait(t, 30*time.Second)
			c.wait(t, 30*time.Second)
			for _, p := range []*proc{b, c} {
				if p.code != 0 || p.stderr.String() != "" {
					t.Fatalf("slot k+1: exit %d, stderr %q", p.code, p.stderr.String())
				}
			}
			if n := len(b.events("skip")) + len(c.events("skip")); n != 1 {
				t.Errorf("slot k+1: %d skips, want 1", n)
			}
			wantLines(t, out, map[string]int{"10:05": 1, "10:10": 1})
			if l := e.readLedger("job"); l.LastSlot == nil || !l.LastSlot.Slot.Equal(next) || l.LastSlot.Outcome != "success" {
				t.Errorf("ledger %+v, want slot k+1 succeeded", l.LastSlot)
			}
		})
	}
}

// 2. A host cut off in the middle of its claim. In each trial host A
// starts through a proxy and is black-holed 0-60 ms later, somewhere
// between connecting and starting its job, so its claim may land or not;
// hosts B and C fire the same slot directly, without the lock (which A may
// hold until its session expires), so that the claim alone decides between
// the three; then the link heals (after A's session expired). Whatever A
// managed, at most one run started the job for that slot; when A's claim
// landed, B and C skipped already_ran; when it did not, exactly one of B
// and C ran it (the slot is not lost to a claim that never happened).
func TestE2E_SlotFaultHostCutOffMidClaim(t *testing.T) {
	srv, e := isolatedEnv(t)
	e.writeFleet(fleetABC)
	out := filepath.Join(e.dir, "runs.out")
	job := e.slotJob(out)
	const T = 1500 * time.Millisecond
	const trials = 10
	const spec = "* * * * *"
	base := time.Date(2026, 11, 30, 11, 0, 0, 0, time.Local)
	landed, aRan := 0, 0
	for i := 0; i < trials; i++ {
		slot := base.Add(time.Duration(i) * time.Minute)
		key := slot.Format("15:04")
		px := proxyTo(t, srv)
		cfg := e.configFile(fmt.Sprintf("a%d.json", i), px.Addr(), T)
		e.extraEnv = []string{"SLOT=" + key, "HOST=hostA"}
		a := e.startWithConfig(cfg, "hostA", "run", "-g", "g", "--lock", "job", "--schedule", spec,
			"--now", slot.Format(time.RFC3339), "--", job)
		e.extraEnv = nil
		delay := time.Duration(rand.Int64N(int64(60 * time.Millisecond)))
		time.Sleep(delay)
		px.Blackhole()

		b := e.slotRun("hostB", slot, slot.Add(time.Second), spec, job, "--no-lock")
		c := e.slotRun("hostC", slot, slot.Add(2*time.Second), spec, job, "--no-lock")
		time.Sleep(2*T + 500*time.Millisecond) // A's session expires
		px.Heal()
		a.wait(t, 30*time.Second)
		b.wait(t, 60*time.Second)
		c.wait(t, 60*time.Second)
		for _, p := range []*proc{b, c} {
			if p.code != 0 || p.stderr.String() != "" {
				t.Fatalf("trial %d: B or C exit %d, stderr %q", i, p.code, p.stderr.String())
			}
		}

		hosts := slotLines(t, out)[key]
		if len(hosts) > 1 {
			t.Fatalf("trial %d (cut after %v): slot ran %d times: %v", i, delay, len(hosts), hosts)
		}
		l := e.readLedger("job")
		if l.LastSlot == nil || !l.LastSlot.Slot.Equal(slot) {
			t.Fatalf("trial %d: ledger %+v, want slot %v claimed", i, l.LastSlot, slot)
		}
		aClaimed := l.LastSlot.Host == "hostA"
		if aClaimed {
			landed++
			for _, p := range []*proc{b, c} {
				wantAlreadyRan(t, fmt.Sprintf("trial %d, A's claim landed", i), p, slot)
			}
			if len(hosts) == 1 {
				aRan++
				if hosts[0] != "hostA" {
					t.Errorf("trial %d: A claimed the slot, %s ran it", i, hosts[0])
				}
			}
		} else if len(hosts) != 1 || hosts[0] != l.LastSlot.Host {
			t.Errorf("trial %d (cut after %v): A's claim did not land, %s claimed; runs %v, want exactly one by the claimer",
				i, delay, l.LastSlot.Host, hosts)
		}
		t.Logf("trial %d: cut after %v, claim by %s, A exit %d, runs %v", i, delay.Round(time.Millisecond), l.LastSlot.Host, a.code, hosts)
		px.Close()
	}
	t.Logf("A's claim landed in %d of %d trials (A's job started in %d of them)", landed, trials, aRan)
}

// 3. A session expiring after the claim: A claims slot k and starts its
// job, then is partitioned past T, so its session expires and its job is
// fenced. B fires slot k while A is still cut off (the lock is free again):
// already_ran. After the heal, slot k+1 runs once, and A's late record (its
// run's end, written or spooled when it could) does not move the ledger
// back: a run of slot k+1 on A afterwards still skips.
func TestE2E_SlotFaultSessionExpiredAfterClaim(t *testing.T) {
	srv, e := isolatedEnv(t)
	e.writeFleet(fleetABC)
	px := proxyTo(t, srv)
	const T = 1500 * time.Millisecond
	cfg := e.configFile("a.json", px.Addr(), T)
	out := filepath.Join(e.dir, "runs.out")
	childFile, gcFile := filepath.Join(e.dir, "child"), filepath.Join(e.dir, "gc")
	long := e.script("long", fmt.Sprintf(`echo "$SLOT $HOST" >> %s
sleep 1000 &
echo $! > %s
echo $$ > %s
wait
`, out, gcFile, childFile))
	job := e.slotJob(out)
	const spec = "0 * * * *"
	k := time.Date(2026, 11, 30, 4, 0, 0, 0, time.Local)
	next := k.Add(time.Hour)

	e.extraEnv = []string{"SLOT=" + k.Format("15:04"), "HOST=hostA"}
	a := e.startWithConfig(cfg, "hostA", "run", "-g", "g", "--lock", "job", "--schedule", spec,
		"--now", k.Format(time.RFC3339), "--", long)
	e.extraEnv = nil
	child, gc := jobPids(t, childFile, gcFile)
	if l := e.readLedger("job"); l.LastSlot == nil || !l.LastSlot.Slot.Equal(k) || l.LastSlot.Host != "hostA" {
		t.Fatalf("ledger %+v, want A's claim of slot k", l.LastSlot)
	}
	px.Blackhole()
	cut := time.Now()
	if _, ok := deathWatch([]int{child, gc}, 3*T); !ok {
		t.Fatal("A's job not fenced")
	}
	time.Sleep(time.Until(cut.Add(2*T + 500*time.Millisecond))) // the server expires A's session

	b := e.slotRun("hostB", k, k.Add(20*time.Second), spec, job)
	b.wait(t, 30*time.Second)
	wantAlreadyRan(t, "B, slot k, A cut off", b, k)
	px.Heal()
	a.wait(t, 30*time.Second)
	if stop := a.events("stop"); len(stop) == 0 || stop[0]["reason"] != "fence" {
		t.Errorf("A: stops %v, want fence", stop)
	}

	c := e.slotRun("hostC", next, next.Add(-3*time.Second), spec, job)
	c.wait(t, 30*time.Second)
	wantRan(t, "C, slot k+1", c)
	b = e.slotRun("hostB", next, next.Add(time.Second), spec, job)
	b.wait(t, 30*time.Second)
	wantAlreadyRan(t, "B, slot k+1", b, next)
	// A run on A flushes whatever A spooled; the ledger stays at k+1.
	a2 := e.slotRun("hostA", next, next.Add(2*time.Second), spec, job)
	a2.wait(t, 30*time.Second)
	wantAlreadyRan(t, "A, slot k+1", a2, next)

	wantLines(t, out, map[string]int{"04:00": 1, "05:00": 1})
	if l := e.readLedger("job"); l.LastSlot == nil || !l.LastSlot.Slot.Equal(next) || l.LastSlot.Host != "hostC" || l.LastSlot.Outcome != "success" {
		t.Errorf("ledger %+v, want slot k+1 by hostC, succeeded", l.LastSlot)
	}
}

// 4. Clock skew at the edge of the 10 s tolerance: a run fired 10.5 s
// before a slot belongs to the previous slot; runs fired 9.5 s before it
// and 50 s after it belong to the slot, so the second of them skips. The
// spec fires every 5 minutes: with "* * * * *", slot+50 s is within the
// tolerance of the next minute and belongs to it, as documented.
func TestE2E_SlotFaultClockSkewAtTolerance(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(fleetABC)
	out := filepath.Join(e.dir, "runs.out")
	job := e.slotJob(out)
	const spec = "*/5 * * * *"
	slot := time.Date(2026, 11, 30, 12, 30, 0, 0, time.Local)
	prev := slot.Add(-5 * time.Minute)

	c := e.slotRun("hostC", prev, slot.Add(-10500*time.Millisecond), spec, job)
	c.wait(t, 30*time.Second)
	wantRan(t, "C at slot-10.5s (the previous slot)", c)
	if l := e.readLedger("job"); l.LastSlot == nil || !l.LastSlot.Slot.Equal(prev) {
		t.Fatalf("after slot-10.5s: ledger %+v, want the previous slot %v", l.LastSlot, prev)
	}

	a := e.slotRun("hostA", slot, slot.Add(-9500*time.Millisecond), spec, job)
	a.wait(t, 30*time.Second)
	wantRan(t, "A at slot-9.5s", a)
	if l := e.readLedger("job"); l.LastSlot == nil || !l.LastSlot.Slot.Equal(slot) {
		t.Fatalf("after slot-9.5s: ledger %+v, want the slot %v", l.LastSlot, slot)
	}

	b := e.slotRun("hostB", slot, slot.Add(50*time.Second), spec, job)
	b.wait(t, 30*time.Second)
	wantAlreadyRan(t, "B at slot+50s", b, slot)

	// A late host firing the previous slot now: it was claimed, it skips.
	c = e.slotRun("hostC", prev, slot.Add(-10500*time.Millisecond), spec, job)
	c.wait(t, 30*time.Second)
	wantAlreadyRan(t, "C at slot-10.5s again", c, prev)

	wantLines(t, out, map[string]int{"12:25": 1, "12:30": 1})
}
