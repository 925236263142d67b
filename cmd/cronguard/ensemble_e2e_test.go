package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cronguard/cronguard/internal/zktest"
)

// ensembleEnv starts a 3-node ensemble whose sessions may last up to 10s,
// so that T/3 (3s) covers a leader election plus the client's reconnect,
// as production's T = 30s does with room to spare.
func ensembleEnv(t *testing.T) (*zktest.Ensemble, *env) {
	t.Helper()
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	ens := zktest.StartTestEnsemble(t, 3, zktest.WithSessionTimeouts(400*time.Millisecond, 10*time.Second))
	e := newEnvAt(t, ens.Addrs())
	e.writeFleet(fleetAB)
	return ens, e
}

// lastServer is the server the run's session last (re)connected to.
func (p *proc) lastServer() string {
	server := ""
	for _, ev := range p.events("zk") {
		if s, ok := ev["server"].(string); ok && (ev["state"] == "session" || ev["state"] == "reconnected") {
			server = s
		}
	}
	return server
}

func serverAt(t *testing.T, ens *zktest.Ensemble, addr string) *zktest.Server {
	t.Helper()
	for _, s := range ens.Servers() {
		if s.Addr() == addr {
			return s
		}
	}
	t.Fatalf("no ensemble member at %q", addr)
	return nil
}

func TestE2E_EnsembleFailoverKeepsJobs(t *testing.T) {
	ens, e := ensembleEnv(t)
	const T = 9 * time.Second
	cfg := e.configFile("ens.json", ens.Addrs(), T)
	job, childFile, gcFile, _ := e.longJob("job")
	p := e.startWithConfig(cfg, "hostA", "run", "-g", "g", "--", job)
	child, gc := jobPids(t, childFile, gcFile)
	ctx := context.Background()

	leader, err := ens.Leader()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kill -9 the leader %s (client on %s)", leader.Addr(), p.lastServer())
	if err := leader.Kill(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(T / 2)
	if !pidAlive(child) || !pidAlive(gc) {
		t.Fatalf("job died after a leader failover; log:\n%s", p.logText())
	}
	if err := leader.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ens.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}

	on := serverAt(t, ens, p.lastServer())
	t.Logf("kill -9 the server the client is on: %s", on.Addr())
	if err := on.Kill(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(T / 2)
	if !pidAlive(child) || !pidAlive(gc) {
		t.Fatalf("job died after its server was killed; log:\n%s", p.logText())
	}
	if stops := p.events("stop"); len(stops) > 0 {
		t.Fatalf("job was stopped: %v", stops)
	}
	if err := on.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(os.Interrupt)
	if code := p.wait(t, 20*time.Second); code != 143 && code != 130 {
		t.Errorf("exit %d after SIGINT", code)
	}
}

// TestE2E_EnsembleDownLongerThanT: every server dies for longer than T; the
// job is stopped by the fence, and after the restart the next holder starts
// only after the old job is dead.
func TestE2E_EnsembleDownLongerThanT(t *testing.T) {
	ens, e := ensembleEnv(t)
	const T = 2 * time.Second
	cfg := e.configFile("down.json", ens.Addrs(), T)
	job, childFile, gcFile, _ := e.longJob("job")
	a := e.startWithConfig(cfg, "hostA", "run", "-g", "both", "--kill-grace", "30s", "--", job)
	child, gc := jobPids(t, childFile, gcFile)
	bStart := filepath.Join(e.dir, "bstart")
	jobB := e.script("jobb", "date +%s%N > "+bStart+"\n")

	down := time.Now()
	for _, s := range ens.Servers() {
		if err := s.Kill(); err != nil {
			t.Fatal(err)
		}
	}
	died, ok := deathWatch([]int{child, gc}, 3*T)
	if !ok {
		t.Fatal("job alive 3T into the outage")
	}
	if el := died.Sub(down); el > 2*T/3+200*time.Millisecond {
		t.Errorf("job died %v into the outage, later than 2T/3 = %v", el, 2*T/3)
	}
	time.Sleep(T)
	ctx := context.Background()
	// Restart all at once: a lone member cannot be ready without a quorum.
	var wg sync.WaitGroup
	for _, s := range ens.Servers() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Restart(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if err := ens.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	b := e.start("hostB", "run", "-g", "both", "--lock", "job", "--wait", "60s", "--", jobB)
	if code := b.wait(t, 90*time.Second); code != 0 {
		t.Fatalf("B exit %d: %s", code, b.stderr.String())
	}
	ns, _ := strconv.ParseInt(strings.TrimSpace(waitFile(t, bStart, time.Second)), 10, 64)
	if margin := time.Unix(0, ns).Sub(died); margin <= 0 {
		t.Fatalf("B started %v before A's job died", -margin)
	} else {
		t.Logf("outage > T: A's job died %v into it; B started %v after that", died.Sub(down), margin)
	}
	a.wait(t, 30*time.Second)
	if stop := a.mustEvent(t, "stop"); stop["reason"] != "fence" {
		t.Errorf("A stop reason %v, want fence", stop["reason"])
	}
}

// TestE2E_CrashedCronguardNeverOverlaps: SIGKILL of cronguard kills the job
// at once; the next holder waits for the session to expire and never
// overlaps the old job.
func TestE2E_CrashedCronguardNeverOverlaps(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(fleetAB)
	job, childFile, gcFile, _ := e.longJob("job")
	a := e.start("hostA", "run", "-g", "both", "--", job)
	child, gc := jobPids(t, childFile, gcFile)
	bStart := filepath.Join(e.dir, "bstart")
	b := e.start("hostB", "run", "-g", "both", "--lock", "job", "--wait", "60s", "--", e.script("jobb", "date +%s%N > "+bStart+"\n"))
	time.Sleep(200 * time.Millisecond)
	killed := time.Now()
	a.cmd.Process.Kill()
	died, ok := deathWatch([]int{child, gc}, 2*time.Second)
	if !ok {
		t.Fatal("job survived SIGKILL of cronguard")
	}
	if code := b.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("B exit %d", code)
	}
	ns, _ := strconv.ParseInt(strings.TrimSpace(waitFile(t, bStart, time.Second)), 10, 64)
	margin := time.Unix(0, ns).Sub(died)
	t.Logf("job died %v after SIGKILL of cronguard; next holder started %v later", died.Sub(killed), margin)
	if margin <= 0 {
		t.Fatal("next holder overlapped the old job")
	}
	if el := died.Sub(killed); el > 500*time.Millisecond {
		t.Errorf("job died %v after cronguard's SIGKILL: not at once", el)
	}
}

// TestE2E_LoadAgainstEnsemble: 5 simulated hosts x 40 invocations of 3 jobs
// in parallel against a 3-node ensemble: no overlap, every invocation ran or
// logged why it skipped, nothing left in <prefix>/locks.
func TestE2E_LoadAgainstEnsemble(t *testing.T) {
	ens, e := ensembleEnv(t)
	_ = ens
	hosts := []string{"h1", "h2", "h3", "h4", "h5"}
	e.setFleet(`{"groups": {"all": ["h1", "h2", "h3", "h4", "h5"]}}`)
	jobs := []string{"alpha", "beta", "gamma"}
	ivDir := filepath.Join(e.dir, "iv")
	os.Mkdir(ivDir, 0o755)
	scripts := map[string]string{}
	for _, j := range jobs {
		scripts[j] = e.script(j, `s=$(date +%s%N)
sleep 0.01
echo "$s $(date +%s%N)" > `+ivDir+`/$CRONGUARD_LOCK.$CRONGUARD_RUN_ID
`)
	}
	const rounds = 40
	var mu sync.Mutex
	ran, skipped, other := 0, 0, 0
	for r := 0; r < rounds; r++ {
		var wg sync.WaitGroup
		for _, h := range hosts {
			for _, j := range jobs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					p := e.start(h, "run", "-g", "all", "--", scripts[j])
					code := p.wait(t, 60*time.Second)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case code != 0:
						other++
						t.Errorf("%s/%s: exit %d: %s", h, j, code, p.stderr.String())
					case len(p.events("finish")) == 1:
						ran++
					case len(p.events("skip")) == 1 && p.events("skip")[0]["reason"] == "lock_busy":
						skipped++
					default:
						other++
						t.Errorf("%s/%s: neither ran nor logged a skip:\n%s", h, j, p.logText())
					}
				}()
			}
		}
		wg.Wait()
	}
	byJob := map[string][][2]int64{}
	files, _ := os.ReadDir(ivDir)
	for _, f := range files {
		b, _ := os.ReadFile(filepath.Join(ivDir, f.Name()))
		var s, en int64
		if _, err := fmt.Sscan(string(b), &s, &en); err != nil {
			t.Fatalf("%s: %q", f.Name(), b)
		}
		job := strings.SplitN(f.Name(), ".", 2)[0]
		byJob[job] = append(byJob[job], [2]int64{s, en})
	}
	total := 0
	for job, ivs := range byJob {
		total += len(ivs)
		sort.Slice(ivs, func(i, j int) bool { return ivs[i][0] < ivs[j][0] })
		for i := 1; i < len(ivs); i++ {
			if ivs[i][0] < ivs[i-1][1] {
				t.Errorf("%s: overlapping runs %v and %v", job, ivs[i-1], ivs[i])
			}
		}
	}
	if total != ran {
		t.Errorf("%d intervals recorded, %d runs logged", total, ran)
	}
	if left, _, err := e.conn.Children(e.prefix + "/locks"); err != nil || len(left) != 0 {
		t.Errorf("locks left behind: %v (%v)", left, err)
	}
	t.Logf("%d invocations: %d ran, %d skipped (lock busy), %d other; no overlap", rounds*len(hosts)*len(jobs), ran, skipped, other)
}
