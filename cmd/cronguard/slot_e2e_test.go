package main

// Once per scheduled slot: every host of a group fires the same cron line;
// exactly one run per slot starts the job, fleet-wide.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const fleetABC = `{"groups": {"g": ["hostA", "hostB", "hostC"]}}`

// ledger is the slot part of a run record.
type ledger struct {
	Schedule string `json:"schedule"`
	LastSlot *struct {
		Slot    time.Time `json:"slot"`
		Host    string    `json:"host"`
		Outcome string    `json:"outcome"`
	} `json:"last_slot"`
}

func (e *env) readLedger(lockName string) ledger {
	e.t.Helper()
	data, _, err := e.conn.Get(e.prefix + "/runs/" + lockName)
	if err != nil {
		e.t.Fatalf("reading the run record: %v", err)
	}
	var l ledger
	if err := json.Unmarshal(data, &l); err != nil {
		e.t.Fatalf("run record %s: %v", data, err)
	}
	return l
}

// slotLines reads the job's output: one "slot host" line per run.
func slotLines(t *testing.T, path string) map[string][]string {
	t.Helper()
	b, _ := os.ReadFile(path)
	out := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			out[f[0]] = append(out[f[0]], f[1])
		}
	}
	return out
}

// Three hosts fire the same line for each of 8 slots, within a few seconds
// of each other (as cron on hosts whose clocks differ would): each slot's
// job runs exactly once, with the lock and without.
func TestE2E_OncePerSlotAcrossHosts(t *testing.T) {
	for _, mode := range []string{"lock", "no-lock"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t)
			e.writeFleet(fleetABC)
			out := filepath.Join(e.dir, "runs.out")
			job := e.script("job", `echo "$SLOT $HOST" >> `+out+"\n")
			base := time.Date(2026, 11, 30, 10, 0, 0, 0, time.Local)
			const slots = 8
			for k := 0; k < slots; k++ {
				slot := base.Add(time.Duration(k) * time.Minute)
				var wg sync.WaitGroup
				procs := make([]*proc, 3)
				for i, host := range []string{"hostA", "hostB", "hostC"} {
					// Fired up to 3 s early or late: clocks and cron wake-ups differ.
					at := slot.Add(time.Duration(i*3-3) * time.Second)
					args := []string{"run", "-g", "g", "--lock", "job", "--schedule", "* * * * *",
						"--now", at.Format(time.RFC3339Nano)}
					if mode == "no-lock" {
						args = append(args, "--no-lock")
					}
					e.extraEnv = []string{"SLOT=" + slot.Format("15:04"), "HOST=" + host}
					procs[i] = e.start(host, append(args, "--", job)...)
				}
				for _, p := range procs {
					wg.Add(1)
					go func(p *proc) { defer wg.Done(); p.wait(t, 30*time.Second) }(p)
				}
				wg.Wait()
				skips := 0
				for _, p := range procs {
					if p.code != 0 || p.stderr.String() != "" {
						t.Fatalf("slot %d: exit %d, stderr %q", k, p.code, p.stderr.String())
					}
					for _, ev := range p.events("skip") {
						if ev["reason"] != "already_ran" && ev["reason"] != "lock_busy" {
							t.Errorf("slot %d: skip %v", k, ev["reason"])
						}
						skips++
					}
				}
				if skips != 2 {
					t.Errorf("slot %d: %d skips, want 2", k, skips)
				}
			}
			lines := slotLines(t, out)
			if len(lines) != slots {
				t.Errorf("%d slots ran, want %d: %v", len(lines), slots, lines)
			}
			for slot, hosts := range lines {
				if len(hosts) != 1 {
					t.Errorf("slot %s ran %d times: %v", slot, len(hosts), hosts)
				}
			}
			l := e.readLedger("job")
			last := base.Add((slots - 1) * time.Minute)
			if l.Schedule != "* * * * *" || l.LastSlot == nil || !l.LastSlot.Slot.Equal(last) || l.LastSlot.Outcome != "success" {
				t.Errorf("ledger %+v, want last slot %v succeeded", l, last)
			}
		})
	}
}

// The hole the lock leaves: a short job finishes before another host's cron
// gets to the same line. The later host skips (already_ran), silently.
func TestE2E_SlotAlreadyRanAfterTheJobFinished(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(fleetABC)
	out := filepath.Join(e.dir, "runs.out")
	job := e.script("job", `echo ran >> `+out+"\n")
	at := time.Date(2026, 11, 30, 3, 17, 0, 0, time.Local)
	for i, host := range []string{"hostA", "hostB", "hostC"} {
		now := at.Add(time.Duration(i) * 1500 * time.Millisecond).Format(time.RFC3339Nano)
		p := e.run(host, "run", "-g", "g", "--schedule", "17 3 * * *", "--now", now, "--", job)
		if p.code != 0 || p.stderr.String() != "" {
			t.Fatalf("%s: exit %d, stderr %q", host, p.code, p.stderr.String())
		}
		if i > 0 {
			if ev := p.mustEvent(t, "skip"); ev["reason"] != "already_ran" {
				t.Errorf("%s: skip %v, want already_ran", host, ev["reason"])
			}
		}
	}
	if b, _ := os.ReadFile(out); string(b) != "ran\n" {
		t.Fatalf("job output %q: want one run", b)
	}
	// The next day's slot runs again; a run for an older slot (a host whose
	// cron is a day late) does not.
	p := e.run("hostB", "run", "-g", "g", "--schedule", "17 3 * * *", "--now", at.Add(24*time.Hour).Format(time.RFC3339), "--", job)
	q := e.run("hostC", "run", "-g", "g", "--schedule", "17 3 * * *", "--now", at.Format(time.RFC3339), "--", job)
	if p.code != 0 || q.code != 0 {
		t.Fatalf("exits %d %d", p.code, q.code)
	}
	if b, _ := os.ReadFile(out); string(b) != "ran\nran\n" {
		t.Fatalf("job output %q: want two runs", b)
	}
	if ev := q.mustEvent(t, "skip"); ev["reason"] != "already_ran" {
		t.Errorf("an older slot: skip %v, want already_ran", ev["reason"])
	}
}

// A run stopped by the fence has used its slot: after the partition, the
// other hosts' runs of that slot skip; the next slot runs.
func TestE2E_FencedRunUsedItsSlot(t *testing.T) {
	srv, e := isolatedEnv(t)
	e.writeFleet(fleetABC)
	px := proxyTo(t, srv)
	const T = 1500 * time.Millisecond
	cfg := e.configFile("slot.json", px.Addr(), T)
	job, childFile, gcFile, _ := e.longJob("job")
	at := time.Date(2026, 11, 30, 4, 0, 0, 0, time.Local)
	a := e.startWithConfig(cfg, "hostA", "run", "-g", "g", "--schedule", "0 * * * *", "--now", at.Format(time.RFC3339), "--", job)
	child, gc := jobPids(t, childFile, gcFile)
	px.Blackhole()
	if _, ok := deathWatch([]int{child, gc}, 3*T); !ok {
		t.Fatal("job not fenced")
	}
	a.wait(t, 30*time.Second)
	px.Heal()
	time.Sleep(T + 500*time.Millisecond) // A's session expires: its lock is gone

	marker := filepath.Join(e.dir, "b.out")
	jobB := e.script("jobB", "echo b >> "+marker)
	b := e.run("hostB", "run", "-g", "g", "--lock", "job", "--schedule", "0 * * * *", "--now", at.Add(20*time.Second).Format(time.RFC3339), "--", jobB)
	if b.code != 0 {
		t.Fatalf("B exit %d: %s", b.code, b.stderr.String())
	}
	if ev := b.mustEvent(t, "skip"); ev["reason"] != "already_ran" {
		t.Errorf("B: skip %v, want already_ran", ev["reason"])
	}
	c := e.run("hostC", "run", "-g", "g", "--lock", "job", "--schedule", "0 * * * *", "--now", at.Add(time.Hour).Format(time.RFC3339), "--", jobB)
	if c.code != 0 {
		t.Fatalf("C exit %d: %s", c.code, c.stderr.String())
	}
	if got, _ := os.ReadFile(marker); string(got) != "b\n" {
		t.Errorf("after the fenced slot: output %q, want the next slot's run only", got)
	}
}

// Bad --schedule values are refused before anything runs: one line, 125.
func TestE2E_ScheduleBadInput(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(fleetABC)
	marker := filepath.Join(e.dir, "ran")
	job := e.script("job", "touch "+marker)
	for _, spec := range []string{"@reboot", "1,,2 * * * *", "* * * *", "61 * * * *", "@every 5m"} {
		p := e.run("hostA", "run", "-g", "g", "--schedule", spec, "--", job)
		if p.code != 125 || strings.Count(p.stderr.String(), "\n") != 1 || !strings.Contains(p.stderr.String(), "--schedule") {
			t.Errorf("%q: exit %d, stderr %q; want 125 and one line naming --schedule", spec, p.code, p.stderr.String())
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the job ran")
	}
}
