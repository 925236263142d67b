package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

const fleetAB = `{"groups": {"g": "hostA", "both": ["hostA", "hostB"], "nested": ["g", "hostC"]}}`

// longJob records its pid and a grandchild's pid, then waits; on SIGTERM it
// records the moment (ns) and exits 143 like a shell killed by TERM would.
func (e *env) longJob(name string) (script, childFile, grandchildFile, termFile string) {
	childFile = filepath.Join(e.dir, name+".child")
	grandchildFile = filepath.Join(e.dir, name+".grandchild")
	termFile = filepath.Join(e.dir, name+".termed")
	script = e.script(name, fmt.Sprintf(`trap 'date +%%s%%N > %s; exit 143' TERM
sleep 1000 &
echo $! > %s
echo $$ > %s
wait
`, termFile, grandchildFile, childFile))
	return
}

// jobPids waits for a longJob's child and grandchild to record their pids.
func jobPids(t *testing.T, childFile, gcFile string) (child, grandchild int) {
	t.Helper()
	return atoi(t, waitFile(t, childFile, 10*time.Second)), atoi(t, waitFile(t, gcFile, 10*time.Second))
}

func TestE2E_RunsOnEligibleHost(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(fleetAB)
	out := filepath.Join(e.dir, "env")
	job := e.script("job", `env | grep ^CRONGUARD_ | sort > `+out+`
test -e `+e.dir+`/never || echo "to stdout"
echo "to stderr" >&2
exit 3
`)
	for _, form := range [][]string{
		{"run", "--group", "g", "--", job},
		{"-g", "g", "--", job}, // switchman's form
	} {
		p := e.run("hostA", form...)
		if p.code != 3 {
			t.Fatalf("%v: exit %d, want the child's 3; stderr:\n%s", form, p.code, p.stderr.String())
		}
		if got := p.stdout.String(); got != "to stdout\n" {
			t.Errorf("child's stdout = %q, want it untouched", got)
		}
		if !strings.Contains(p.stderr.String(), "to stderr\n") {
			t.Errorf("child's stderr missing: %q", p.stderr.String())
		}
		envs, _ := os.ReadFile(out)
		for _, re := range []string{`(?m)^CRONGUARD_LOCK=job$`, `(?m)^CRONGUARD_GROUP=g$`,
			`(?m)^CRONGUARD_RUN_ID=[0-9a-f]{16}$`, `(?m)^CRONGUARD_FENCE=[0-9]+$`} {
			if !regexp.MustCompile(re).Match(envs) {
				t.Errorf("child environment lacks %s:\n%s", re, envs)
			}
		}
		fin := p.mustEvent(t, "finish")
		for _, k := range []string{"exit", "duration_ms", "max_rss_kb", "user_cpu_ms", "sys_cpu_ms", "host", "group", "lock", "run_id", "pid"} {
			if _, ok := fin[k]; !ok {
				t.Errorf("finish event lacks %q: %v", k, fin)
			}
		}
		if fin["exit"] != float64(3) {
			t.Errorf("finish exit = %v", fin["exit"])
		}
		p.mustEvent(t, "start")
		if e.exists(e.lockPath("job")) {
			t.Errorf("lock node left behind")
		}
	}
}

func TestE2E_NestedGroupEligible(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(fleetAB)
	marker := filepath.Join(e.dir, "ran")
	job := e.script("job", "touch "+marker)
	p := e.run("hostA", "run", "-g", "nested", "--", job)
	if p.code != 0 {
		t.Fatalf("exit %d: %s", p.code, p.stderr.String())
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatal("job did not run for a host of a nested group")
	}
}

func TestE2E_SkipWhenNotEligible(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(fleetAB)
	marker := filepath.Join(e.dir, "ran")
	job := e.script("job", "touch "+marker)
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"run", "-g", "g", "--", job}, 0},
		{[]string{"run", "-g", "g", "--skip-code", "7", "--", job}, 7},
	} {
		p := e.run("hostB", tc.args...)
		if p.code != tc.code {
			t.Errorf("%v: exit %d, want %d", tc.args, p.code, tc.code)
		}
		if skip := p.mustEvent(t, "skip"); skip["reason"] != "ineligible" {
			t.Errorf("skip reason %v", skip["reason"])
		}
		if p.stderr.String() != "" {
			t.Errorf("a skip must not write to stderr (cron would mail it): %q", p.stderr.String())
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("job ran on an ineligible host")
	}
	if e.exists(e.prefix + "/locks") {
		t.Error("an ineligible run wrote to ZooKeeper")
	}
}

func TestE2E_SkipWhenLockBusy(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(fleetAB)
	// A switchman holder: data "host pid", ephemeral.
	if _, err := e.conn.Create(e.prefix+"/locks", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.conn.Create(e.lockPath("job"), []byte("otherhost.example 4242"), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(e.dir, "ran")
	job := e.script("job", "touch "+marker)
	p := e.run("hostA", "run", "-g", "both", "--skip-code", "9", "--", job)
	if p.code != 9 {
		t.Fatalf("exit %d, want skip code 9; stderr %s", p.code, p.stderr.String())
	}
	skip := p.mustEvent(t, "skip")
	if skip["reason"] != "lock_busy" || skip["holder"] != "otherhost.example 4242" {
		t.Errorf("skip event %v", skip)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("job ran while the lock was held")
	}

	// --wait: the holder goes away after 300ms, the run then takes the lock.
	go func() {
		time.Sleep(300 * time.Millisecond)
		e.conn.Delete(e.lockPath("job"), -1)
	}()
	start := time.Now()
	p = e.run("hostA", "run", "-g", "both", "--wait", "10s", "--", job)
	if p.code != 0 {
		t.Fatalf("--wait: exit %d; stderr %s", p.code, p.stderr.String())
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatal("--wait: job did not run after the holder left")
	}
	if el := time.Since(start); el < 250*time.Millisecond {
		t.Errorf("--wait run finished after %v: it cannot have waited for the holder", el)
	}
}

func TestE2E_UnassignStopsWholeTree(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(`{"groups": {"g": ["hostA"]}}`)
	job, childFile, gcFile, termFile := e.longJob("job")
	p := e.start("hostA", "run", "-g", "g", "--", job)
	child, gc := jobPids(t, childFile, gcFile)

	// An edit that keeps the host eligible leaves the job alone, and so
	// does an invalid edit.
	e.setFleet(`{"groups": {"g": ["hostC", "hostA"]}}`)
	e.setFleet(`{"groups": {"g": [`)
	time.Sleep(300 * time.Millisecond)
	if !pidAlive(child) || !pidAlive(gc) {
		t.Fatal("an edit that keeps the host eligible (or an invalid one) touched the job")
	}

	flipped := e.setFleet(`{"groups": {"g": ["hostC"]}}`)
	code := p.wait(t, 10*time.Second)
	if code != 143 {
		t.Fatalf("exit %d, want 143 (child stopped by SIGTERM); log:\n%s", code, p.logText())
	}
	termed, err := strconv.ParseInt(strings.TrimSpace(waitFile(t, termFile, time.Second)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	latency := time.Duration(termed - flipped.UnixNano())
	t.Logf("stop latency, config write acknowledged -> SIGTERM handled in the child: %v", latency)
	if latency > 2*time.Second {
		t.Errorf("stop latency %v exceeds the gross bound of 2s", latency)
	}
	waitGone(t, child, time.Second)
	waitGone(t, gc, time.Second)
	if stop := p.mustEvent(t, "stop"); stop["reason"] != "ineligible" {
		t.Errorf("stop reason %v", stop["reason"])
	}
	if e.exists(e.lockPath("job")) {
		t.Error("lock node left behind")
	}
}

func TestE2E_GroupRemovedStopsJob(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(`{"groups": {"g": "hostA", "h": "hostB"}}`)
	job, childFile, _, _ := e.longJob("job")
	p := e.start("hostA", "run", "-g", "g", "--", job)
	waitFile(t, childFile, 10*time.Second)
	e.setFleet(`{"groups": {"h": "hostB"}}`)
	if code := p.wait(t, 10*time.Second); code != 143 {
		t.Fatalf("exit %d, want 143", code)
	}
	if stop := p.mustEvent(t, "stop"); stop["reason"] != "ineligible" {
		t.Errorf("stop reason %v", stop["reason"])
	}
}

func TestE2E_LockNodeDeletedKillsAtOnce(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(fleetAB)
	job, childFile, gcFile, termFile := e.longJob("job")
	p := e.start("hostA", "run", "-g", "g", "--kill-grace", "30s", "--", job)
	waitFile(t, childFile, 10*time.Second)
	gc := atoi(t, waitFile(t, gcFile, time.Second))
	start := time.Now()
	if err := e.conn.Delete(e.lockPath("job"), -1); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, 10*time.Second); code != 137 {
		t.Fatalf("exit %d, want 137 (SIGKILL at once, someone else may hold the lock)", code)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("kill took %v despite --kill-grace 30s: it must not wait for the grace", el)
	}
	if _, err := os.Stat(termFile); err == nil {
		t.Error("child got SIGTERM: a deleted lock means SIGKILL at once")
	}
	waitGone(t, gc, time.Second)
	if stop := p.mustEvent(t, "stop"); stop["reason"] != "lock_lost" {
		t.Errorf("stop reason %v", stop["reason"])
	}
}

func TestE2E_LockNodeChangedStopsJob(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(fleetAB)
	job, childFile, _, termFile := e.longJob("job")
	p := e.start("hostA", "run", "-g", "g", "--", job)
	waitFile(t, childFile, 10*time.Second)
	if _, err := e.conn.Set(e.lockPath("job"), []byte("someone else"), -1); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, 10*time.Second); code != 143 {
		t.Fatalf("exit %d, want 143", code)
	}
	waitFile(t, termFile, time.Second)
	if stop := p.mustEvent(t, "stop"); stop["reason"] != "lock_lost" {
		t.Errorf("stop reason %v", stop["reason"])
	}
}

func TestE2E_Timeout(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(fleetAB)
	job, childFile, gcFile, _ := e.longJob("job")
	start := time.Now()
	p := e.run("hostA", "run", "-g", "g", "--timeout", "500ms", "--", job)
	if p.code != 124 {
		t.Fatalf("exit %d, want 124", p.code)
	}
	if el := time.Since(start); el < 500*time.Millisecond {
		t.Errorf("stopped after %v, before the timeout", el)
	}
	waitGone(t, atoi(t, waitFile(t, childFile, time.Second)), time.Second)
	waitGone(t, atoi(t, waitFile(t, gcFile, time.Second)), time.Second)
	if stop := p.mustEvent(t, "stop"); stop["reason"] != "timeout" {
		t.Errorf("stop reason %v", stop["reason"])
	}
}

func TestE2E_KillGraceEscalatesToSIGKILL(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(fleetAB)
	started := filepath.Join(e.dir, "started")
	job := e.script("stubborn", "trap '' TERM\necho started > "+started+"\nwhile :; do sleep 0.05; done\n")
	p := e.start("hostA", "run", "-g", "g", "--timeout", "200ms", "--kill-grace", "300ms", "--", job)
	waitFile(t, started, 10*time.Second)
	if code := p.wait(t, 10*time.Second); code != 124 {
		t.Fatalf("exit %d, want 124", code)
	}
	fin := p.mustEvent(t, "finish")
	// The job ignores SIGTERM: only SIGKILL after the grace ends it.
	if d, _ := fin["duration_ms"].(float64); time.Duration(d*float64(time.Millisecond)) < 450*time.Millisecond {
		t.Errorf("job ended after %vms, before timeout+grace", d)
	}
}

func TestE2E_SignalsAreForwarded(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			e := newEnv(t)
			e.writeFleet(fleetAB)
			got := filepath.Join(e.dir, "got")
			ready := filepath.Join(e.dir, "ready")
			job := e.script("job", fmt.Sprintf(`trap 'echo TERM > %[1]s; exit 143' TERM
trap 'echo INT > %[1]s; exit 130' INT
trap 'echo HUP > %[1]s; exit 129' HUP
echo ready > %[2]s
while :; do sleep 0.05; done
`, got, ready))
			p := e.start("hostA", "run", "-g", "g", "--", job)
			waitFile(t, ready, 10*time.Second)
			p.cmd.Process.Signal(sig)
			code := p.wait(t, 10*time.Second)
			if code != 128+int(sig) {
				t.Errorf("exit %d, want %d", code, 128+int(sig))
			}
			want := map[syscall.Signal]string{syscall.SIGTERM: "TERM", syscall.SIGINT: "INT", syscall.SIGHUP: "HUP"}[sig]
			if s := strings.TrimSpace(waitFile(t, got, time.Second)); s != want {
				t.Errorf("child got %q, want %q", s, want)
			}
			if stop := p.mustEvent(t, "stop"); stop["reason"] != "signal" {
				t.Errorf("stop reason %v", stop["reason"])
			}
		})
	}
}

func TestE2E_SIGKILLOfCronguardLeavesNoChild(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(fleetAB)
	job, childFile, gcFile, _ := e.longJob("job")
	p := e.start("hostA", "run", "-g", "g", "--", job)
	child, gc := jobPids(t, childFile, gcFile)
	p.cmd.Process.Kill()
	p.wait(t, 5*time.Second)
	waitGone(t, child, 2*time.Second)
	waitGone(t, gc, 2*time.Second)
	// The lock frees when the session expires (the test server caps
	// sessions at 20 ticks = 4s).
	deadline := time.Now().Add(15 * time.Second)
	for e.exists(e.lockPath("job")) {
		if time.Now().After(deadline) {
			t.Fatal("lock node still there long after the session must have expired")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestE2E_ExitCodes(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(fleetAB)
	marker := filepath.Join(e.dir, "ran")
	job := e.script("job", "touch "+marker)
	notExec := filepath.Join(e.dir, "notexec")
	os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644)
	badJSON := newEnvAt(t, e.zkAddr)
	badJSON.writeFleet(`{"groups": `)
	noPrefix := newEnvAt(t, e.zkAddr)
	cfgDir := t.TempDir()
	writeCfg := func(name, body string) string {
		p := filepath.Join(cfgDir, name)
		os.WriteFile(p, []byte(body), 0o644)
		return p
	}
	unreachable := writeCfg("unreachable.json", `{"zkhosts": "127.0.0.1:1", "prefix": "/x", "connect_timeout": 1}`)
	malformed := writeCfg("malformed.json", "{\n  \"zkhosts\": \"127.0.0.1:2181\",\n  \"prefix\": \n}\n")

	cases := []struct {
		name   string
		env    *env
		args   []string
		code   int
		stderr string
	}{
		{"child code", e, []string{"run", "-g", "g", "--", "sh", "-c", "exit 42"}, 42, ""},
		{"child killed by signal", e, []string{"run", "-g", "g", "--", "sh", "-c", "kill -USR1 $$"}, 128 + int(syscall.SIGUSR1), ""},
		{"not found", e, []string{"run", "-g", "g", "--", filepath.Join(e.dir, "missing")}, 127, "missing"},
		{"not found in PATH", e, []string{"run", "-g", "g", "--", "no-such-command-cronguard"}, 127, "no-such-command-cronguard"},
		{"not executable", e, []string{"run", "-g", "g", "--", notExec}, 126, "notexec"},
		{"unknown group", e, []string{"run", "-g", "nope", "--", job}, 125, "nope"},
		{"invalid lock name", e, []string{"run", "-g", "g", "--lock", "a/b", "--", job}, 125, "a/b"},
		{"invalid fleet JSON", badJSON, []string{"run", "-g", "g", "--", job}, 125, badJSON.prefix},
		{"missing prefix", noPrefix, []string{"run", "-g", "g", "--", job}, 125, noPrefix.prefix},
		{"unreachable ZooKeeper", e, []string{"--config", unreachable, "run", "-g", "g", "--", job}, 125, "127.0.0.1:1"},
		{"malformed config file", e, []string{"--config", malformed, "run", "-g", "g", "--", job}, 125, "malformed.json"},
		{"missing config file", e, []string{"--config", filepath.Join(cfgDir, "absent.json"), "run", "-g", "g", "--", job}, 125, "absent.json"},
		{"bad duration", e, []string{"run", "-g", "g", "--timeout", "soon", "--", job}, 125, "soon"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(marker)
			start := time.Now()
			p := tc.env.runRaw("hostA", tc.args...)
			if p.code != tc.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", p.code, tc.code, p.stderr.String())
			}
			if tc.code >= 125 && tc.code <= 127 {
				lines := strings.Split(strings.TrimRight(p.stderr.String(), "\n"), "\n")
				if len(lines) != 1 || !strings.Contains(lines[0], tc.stderr) {
					t.Errorf("want one stderr line naming %q, got:\n%s", tc.stderr, p.stderr.String())
				}
				if _, err := os.Stat(marker); err == nil {
					t.Error("the command ran")
				}
			}
			if time.Since(start) > 10*time.Second {
				t.Errorf("took %v", time.Since(start))
			}
		})
	}
	if badJSON.exists(badJSON.prefix + "/locks") {
		t.Error("a run against an invalid fleet config wrote to ZooKeeper")
	}
	if noPrefix.exists(noPrefix.prefix) {
		t.Error("a run against a missing prefix created it")
	}
}

// runRaw runs cronguard with --zk/--prefix unless args bring a --config.
func (e *env) runRaw(host string, args ...string) *proc {
	e.t.Helper()
	if len(args) == 0 || args[0] != "--config" {
		return e.run(host, args...)
	}
	logPath := e.newLogPath()
	p := e.startArgs(logPath, append([]string{"--hostname", host, "--log-file", logPath}, args...)...)
	p.wait(e.t, 60*time.Second)
	return p
}

// TestE2E_RaceNeverOverlaps: two hosts start the same job at the same moment,
// 50 times; the children's run intervals never overlap.
func TestE2E_RaceNeverOverlaps(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(fleetAB)
	ivDir := filepath.Join(e.dir, "iv")
	os.Mkdir(ivDir, 0o755)
	job := e.script("racer", `f=`+ivDir+`/$CRONGUARD_RUN_ID
s=$(date +%s%N)
sleep 0.02
echo "$s $(date +%s%N)" > $f
`)
	const rounds = 50
	ran, skipped := 0, 0
	for i := 0; i < rounds; i++ {
		var wg sync.WaitGroup
		procs := make([]*proc, 2)
		for j, host := range []string{"hostA", "hostB"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				procs[j] = e.start(host, "run", "-g", "both", "--lock", "race", "--", job)
			}()
		}
		wg.Wait()
		for _, p := range procs {
			if code := p.wait(t, 30*time.Second); code != 0 {
				t.Fatalf("round %d: exit %d: %s", i, code, p.stderr.String())
			}
			if len(p.events("skip")) > 0 {
				skipped++
			} else {
				ran++
			}
		}
	}
	files, _ := os.ReadDir(ivDir)
	type iv struct{ s, e int64 }
	var ivs []iv
	for _, f := range files {
		b, _ := os.ReadFile(filepath.Join(ivDir, f.Name()))
		var x iv
		if _, err := fmt.Sscan(string(b), &x.s, &x.e); err != nil {
			t.Fatalf("%s: %q", f.Name(), b)
		}
		ivs = append(ivs, x)
	}
	if len(ivs) != ran {
		t.Fatalf("%d intervals recorded, %d runs logged", len(ivs), ran)
	}
	sort.Slice(ivs, func(i, j int) bool { return ivs[i].s < ivs[j].s })
	for i := 1; i < len(ivs); i++ {
		if ivs[i].s < ivs[i-1].e {
			t.Fatalf("overlap: run %v starts before run %v ends", ivs[i], ivs[i-1])
		}
	}
	t.Logf("%d rounds: %d runs, %d skips, no overlap", rounds, ran, skipped)
	if ran < rounds {
		t.Errorf("only %d runs in %d rounds", ran, rounds)
	}
}

// TestE2E_SwitchmanConfigUnchanged: a switchman config file works as
// --config as it is, including its log file and termination_timeout.
func TestE2E_SwitchmanConfigUnchanged(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(fleetAB)
	logFile := filepath.Join(e.dir, "switchman.log")
	cfg := filepath.Join(e.dir, "switchman.conf")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`{
    "zkhosts": "%s",
    "prefix": "%s",
    "logfile": "%s",
    "loglevel": "info",
    "termination_timeout": 1
}
`, e.zkAddr, e.prefix, logFile)), 0o644)
	job := e.script("stubborn", "trap '' TERM\nwhile :; do sleep 0.05; done\n")
	p := e.startArgs(logFile, "-c", cfg, "--hostname", "hostA", "-g", "g", "--lockname", "legacy-job", "--timeout", "300ms", "--", job)
	if code := p.wait(t, 20*time.Second); code != 124 {
		t.Fatalf("exit %d, want 124; stderr %s", code, p.stderr.String())
	}
	if strings.Contains(p.stderr.String(), "key") {
		t.Errorf("a switchman config gave warnings: %q", p.stderr.String())
	}
	fin := p.mustEvent(t, "finish")
	// termination_timeout 1 (s): SIGKILL one second after the SIGTERM.
	if d, _ := fin["duration_ms"].(float64); d < 1200 || d > 5000 {
		t.Errorf("job ran %vms; want timeout 300ms + termination_timeout 1s", d)
	}
	if fin["lock"] != "legacy-job" {
		t.Errorf("lock %v", fin["lock"])
	}
}

// TestE2E_LockBusySkipIsSilent: a skip writes nothing to stderr, which cron
// mails. cronguard starts its job's shim early (to overlap the lock's round
// trips) and on a lock-busy skip exits at once; on a loaded box the shim,
// slower to start, then finds its parent gone. The test makes that
// interleaving certain rather than likely: a watcher freezes each shim
// (SIGSTOP) as soon as it is forked, lets cronguard finish its skip and
// exit, then resumes the shim. Several cronguards at a time. With both
// shims: the C shim (beside cronguard) and the Go one (cronguard alone).
func TestE2E_LockBusySkipIsSilent(t *testing.T) {
	alone := filepath.Join(t.TempDir(), "cronguard")
	copyExecutable(t, binPath, alone)
	for _, tc := range []struct{ name, bin string }{{"C shim", binPath}, {"Go shim", alone}} {
		t.Run(tc.name, func(t *testing.T) { testLockBusySkipIsSilent(t, tc.bin) })
	}
}

func testLockBusySkipIsSilent(t *testing.T, bin string) {
	e := newEnv(t)
	e.bin = bin
	e.writeFleet(fleetAB)
	if _, err := e.conn.Create(e.prefix+"/locks", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.conn.Create(e.lockPath("job"), []byte("otherhost.example 4242"), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(e.dir, "ran")
	job := e.script("job", "touch "+marker)
	const runs, parallel = 120, 4
	var mu sync.Mutex
	noisy, frozen := 0, 0
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i := 0; i < runs; i++ {
		sem <- struct{}{}
		wg.Add(1)
		p := e.start("hostA", "run", "-g", "both", "--skip-code", "9", "--", job)
		go func() {
			defer func() { <-sem; wg.Done() }()
			caught := freezeShimUntilExit(t, p.cmd.Process.Pid)
			// p.done closes once every holder of the stderr pipe,
			// the shim too, has closed it.
			select {
			case <-p.done:
			case <-time.After(60 * time.Second):
				t.Errorf("cronguard or its shim did not exit; stderr %q", p.stderr.String())
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if caught {
				frozen++
			}
			if p.code != 9 || len(p.events("skip")) != 1 || p.events("skip")[0]["reason"] != "lock_busy" {
				t.Errorf("exit %d, want a lock_busy skip (code 9); stderr %q\nlog:\n%s", p.code, p.stderr.String(), p.logText())
				return
			}
			if s := p.stderr.String(); s != "" {
				if noisy == 0 {
					t.Errorf("a lock-busy skip wrote to stderr (cron would mail it): %q", s)
				}
				noisy++
			}
		}()
	}
	wg.Wait()
	t.Logf("%d skips, %d with the shim frozen until cronguard exited, %d wrote to stderr", runs, frozen, noisy)
	if noisy > 0 {
		t.Errorf("%d of %d skips wrote to stderr", noisy, runs)
	}
	if frozen == 0 {
		t.Error("no shim was caught before its cronguard exited: the test exercised nothing")
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("job ran while the lock was held")
	}
}

// freezeShimUntilExit watches cronguard pid cg for a child (its shim, the
// only process it forks), SIGSTOPs it as soon as it has exec'd (stopped
// before, it would hold cronguard in fork-exec) and, the Go shim, before it
// names itself cronguard-shim (which it does once it has checked on its
// parent), waits for cronguard to exit, and SIGCONTs it. It reports
// whether it froze one. The C shim is named from its exec and reaches its
// parent check within microseconds: it is frozen wherever it is (at its
// start, or waiting for the go), and resumes with its parent gone either
// way.
func freezeShimUntilExit(t *testing.T, cg int) bool {
	taskDir := fmt.Sprintf("/proc/%d/task", cg)
	shim := 0
	for shim == 0 && pidAlive(cg) {
		tasks, _ := os.ReadDir(taskDir)
		for _, task := range tasks {
			b, _ := os.ReadFile(filepath.Join(taskDir, task.Name(), "children"))
			if f := strings.Fields(string(b)); len(f) > 0 {
				shim, _ = strconv.Atoi(f[0])
				break
			}
		}
	}
	if shim == 0 {
		return false
	}
	commFile := fmt.Sprintf("/proc/%d/comm", shim)
	for {
		b, err := os.ReadFile(commFile)
		comm := strings.TrimSpace(string(b))
		if err != nil {
			return false // gone
		}
		if comm == "exe" { // the Go shim, exec'd as /proc/self/exe
			break
		}
		if comm == "cronguard-shim" {
			if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", shim)); strings.HasSuffix(exe, "/cronguard-shim") {
				break // the C shim
			}
			return false // the Go shim past its parent check: too late
		}
	}
	if syscall.Kill(shim, syscall.SIGSTOP) != nil {
		return false
	}
	defer syscall.Kill(shim, syscall.SIGCONT)
	deadline := time.Now().Add(30 * time.Second)
	for pidAlive(cg) {
		if time.Now().After(deadline) {
			t.Errorf("cronguard %d did not exit while its shim was stopped", cg)
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

// TestE2E_ClosedStderrDoesNotKill: cron's pipe may be gone (cron restarted).
// A warning written to a closed stderr must be a failed write, not death by
// SIGPIPE: cronguard must still release the lock at once, write the run
// record and exit with the job's code. The job here dies of a signal sent
// by someone else (itself), which cronguard reports as a warning.
func TestE2E_ClosedStderrDoesNotKill(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(fleetAB)
	job := e.script("job", "kill -USR1 $$\n")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close() // nobody will ever read: every write gets EPIPE (and SIGPIPE)
	logPath := e.newLogPath()
	cmd := exec.Command(binPath, "--zk", e.zkAddr, "--prefix", e.prefix, "--hostname", "hostA",
		"--log-level", "debug", "--log-file", logPath, "run", "-g", "g", "--", job)
	cmd.Env = withoutCronguardEnv(os.Environ())
	cmd.Stderr = w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var code int
	select {
	case err := <-done:
		code = exitCodeOf(err)
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("cronguard did not exit")
	}
	p := &proc{log: logPath}
	if want := 128 + int(syscall.SIGUSR1); code != want {
		t.Fatalf("exit %d, want the job's %d (141 is death by SIGPIPE); log:\n%s", code, want, p.logText())
	}
	// Right after the exit, not once the session expires.
	if e.exists(e.lockPath("job")) {
		t.Error("lock node still held after cronguard exited")
	}
	if !e.exists(e.prefix + "/runs/job") {
		t.Error("no run record written")
	}
	if fin := p.mustEvent(t, "finish"); fin["level"] != "warn" {
		t.Errorf("finish event %v: want the warning that hit the closed stderr", fin)
	}
}

// TestE2E_JobGetsDefaultSIGPIPE: cronguard survives a closed stderr by
// catching SIGPIPE, never by ignoring it: an ignored SIGPIPE is inherited
// across exec, and a job's `producer | head -1` would then spin on EPIPE
// errors instead of dying quietly. The job sees its own disposition and
// cronguard's (its shim's parent): neither ignores SIGPIPE, cronguard
// catches it. (The shim, a Go program, installs its own SIGPIPE handler and
// so would shield the job even from an ignoring cronguard: hence the check
// on cronguard itself.)
func TestE2E_JobGetsDefaultSIGPIPE(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(fleetAB)
	jobOut, cgOut := filepath.Join(e.dir, "job"), filepath.Join(e.dir, "cronguard")
	job := e.script("job", `grep -E '^Sig(Ign|Cgt):' /proc/self/status > `+jobOut+`
cg=$(awk '/^PPid:/ {print $2}' /proc/$PPID/status)
grep -E '^Sig(Ign|Cgt):' /proc/$cg/status > `+cgOut+`
`)
	p := e.run("hostA", "run", "-g", "g", "--", job)
	if p.code != 0 {
		t.Fatalf("exit %d; stderr %s", p.code, p.stderr.String())
	}
	pipe := uint64(1) << (uint(syscall.SIGPIPE) - 1)
	masks := func(file string) (ign, cgt uint64) {
		b, _ := os.ReadFile(file)
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "SigIgn:"); ok {
				ign, _ = strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			}
			if v, ok := strings.CutPrefix(line, "SigCgt:"); ok {
				cgt, _ = strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			}
		}
		if cgt == 0 {
			t.Fatalf("%s: no signal masks: %q", file, b)
		}
		return ign, cgt
	}
	if ign, _ := masks(jobOut); ign&pipe != 0 {
		t.Errorf("the job inherited an ignored SIGPIPE (SigIgn %x)", ign)
	}
	if ign, cgt := masks(cgOut); ign&pipe != 0 || cgt&pipe == 0 {
		t.Errorf("cronguard must catch SIGPIPE, not ignore it: SigIgn %x SigCgt %x", ign, cgt)
	}
}

// A host in no group at all is a misconfiguration (an identity that does
// not match the fleet config), not a routine skip: warned on stderr (cron
// mails it) at most once an hour per job, and the metrics gauge is 1.
func TestE2E_HostInNoGroupWarnsHourly(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(fleetAB)
	cfg, stateDir, metricsDir := e.recordConfig("cfg.json", e.zkAddr, 10*time.Second)
	job := e.script("job", "true")
	run := func(host string) *proc {
		p := e.run(host, "--config", cfg, "run", "-g", "g", "--", job)
		if p.code != 0 {
			t.Fatalf("exit %d: %s", p.code, p.stderr.String())
		}
		return p
	}
	gauge := func() string {
		data, _ := os.ReadFile(filepath.Join(metricsDir, "cronguard_job.prom"))
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "cronguard_host_in_no_group{") {
				return line[strings.LastIndexByte(line, ' ')+1:]
			}
		}
		return "(absent)"
	}
	p := run("ip-10-0-0-1")
	if !strings.Contains(p.stderr.String(), `"ip-10-0-0-1" is in no group of the fleet config`) {
		t.Errorf("first run: no warning on stderr: %q", p.stderr.String())
	}
	if len(p.events("no_group")) != 1 {
		t.Errorf("first run: want one no_group event in the log: %s", p.logText())
	}
	if g := gauge(); g != "1" {
		t.Errorf("cronguard_host_in_no_group = %s, want 1", g)
	}
	if p = run("ip-10-0-0-1"); p.stderr.String() != "" {
		t.Errorf("second run within the hour warned again: %q", p.stderr.String())
	}
	stamp := filepath.Join(stateDir, "no-group", "job")
	old := time.Now().Add(-61 * time.Minute)
	if err := os.Chtimes(stamp, old, old); err != nil {
		t.Fatal(err)
	}
	if p = run("ip-10-0-0-1"); !strings.Contains(p.stderr.String(), "in no group") {
		t.Errorf("an hour later: no warning: %q", p.stderr.String())
	}
	// In another group (both) but not in g: the routine skip, silent.
	if p = run("hostB"); p.stderr.String() != "" {
		t.Errorf("hostB is in group both: a skip must stay quiet: %q", p.stderr.String())
	}
	if g := gauge(); g != "0" {
		t.Errorf("cronguard_host_in_no_group = %s after a host in some group, want 0", g)
	}
}
