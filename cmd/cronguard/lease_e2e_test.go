package main

// End-to-end tests of leases, fair waiting, splay and switchman parity: the
// built binary against a real ZooKeeper.

import (
	"bufio"
	"bytes"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

const leaseFleet = `{"groups": {"all": ["hostA", "hostB", "hostC"]}, "resources": ["slots", "mem", "FQDN_cpu", "other"]}`

func (e *env) leaseKids(p string) []string {
	e.t.Helper()
	k, _, err := e.conn.Children(p)
	if err == zk.ErrNoNode {
		return nil
	}
	if err != nil {
		e.t.Fatalf("children %s: %v", p, err)
	}
	sort.Strings(k)
	return k
}

// waitLeaseKids waits until p has n children matching re (nil: any).
func (e *env) waitLeaseKids(p string, re *regexp.Regexp, n int, d time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(d)
	var got []string
	for time.Now().Before(deadline) {
		got = got[:0]
		for _, k := range e.leaseKids(p) {
			if re == nil || re.MatchString(k) {
				got = append(got, k)
			}
		}
		if len(got) == n {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	e.t.Fatalf("%s has %v, want %d such children", p, got, n)
}

func (e *env) queueDir(res string) string { return e.prefix + "/queues/" + res }
func (e *env) leasesDir(res string) string {
	return e.prefix + "/semaphores/" + res + "/leases"
}

// mkdirs creates persistent nodes (switchman writes "host pid" into them).
func (e *env) mkdirs(paths ...string) {
	e.t.Helper()
	for _, p := range paths {
		if _, err := e.conn.Create(p, []byte("other.example 4242"), 0, zk.WorldACL(zk.PermAll)); err != nil && err != zk.ErrNodeExists {
			e.t.Fatalf("create %s: %v", p, err)
		}
	}
}

// switchmanNode creates an ephemeral sequential node the way switchman does
// (data "fqdn pid") on the test's own session; it returns its path.
func (e *env) switchmanNode(prefix string) string {
	e.t.Helper()
	p, err := e.conn.Create(prefix, []byte("other.example 4242"), zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil {
		e.t.Fatalf("create %s: %v", prefix, err)
	}
	return p
}

// noLeaseLeftovers fails when a queue entry, a mutex node or a lease of res
// is left.
func (e *env) noLeaseLeftovers(res string) {
	e.t.Helper()
	for _, p := range []string{e.queueDir(res), e.prefix + "/semaphores/" + res + "/lock", e.leasesDir(res), e.queueDir("_locks")} {
		if k := e.leaseKids(p); len(k) != 0 {
			e.t.Errorf("%s left behind: %v", p, k)
		}
	}
}

// TestE2E_LeaseTotalAcrossHosts: 30 invocations of 30 different jobs from 3
// hosts, all at once, lease slots=1 or 2 of 4. Each child records when it
// ran and what it holds; the sum held at any moment never exceeds 4, also
// as sampled from ZooKeeper, and every invocation ran.
func TestE2E_LeaseTotalAcrossHosts(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(leaseFleet)
	ivDir := filepath.Join(e.dir, "iv")
	os.Mkdir(ivDir, 0o755)
	job := e.script("job", `s=$(date +%s%N)
sleep 0.1
echo "$s $(date +%s%N) $1" > `+ivDir+`/$CRONGUARD_RUN_ID
`)
	const total, n = 4, 30
	stop := make(chan struct{})
	sampled := make(chan int64)
	go func() {
		var max int64
		for {
			select {
			case <-stop:
				sampled <- max
				return
			default:
			}
			if kids, _, err := e.conn.Children(e.leasesDir("slots")); err == nil {
				var sum int64
				for _, k := range kids {
					c, _ := strconv.ParseInt(strings.SplitN(k, "_", 2)[0], 10, 64)
					sum += c
				}
				if sum > max {
					max = sum
				}
			}
			time.Sleep(time.Millisecond)
		}
	}()
	start := time.Now()
	procs := make([]*proc, n)
	for i := range n {
		host := []string{"hostA", "hostB", "hostC"}[i%3]
		count := []string{"1", "(1+1)"}[i%2]
		procs[i] = e.start(host, "run", "-g", "all", "--lock", fmt.Sprintf("job%d", i),
			"--lease", "slots="+count+":"+strconv.Itoa(total), "--", job, strconv.Itoa(1+i%2))
	}
	for i, p := range procs {
		if code := p.wait(t, 60*time.Second); code != 0 {
			t.Errorf("invocation %d: exit %d; stderr %s\nlog:\n%s", i, code, p.stderr.String(), p.logText())
		}
	}
	elapsed := time.Since(start)
	close(stop)
	zkMax := <-sampled

	type edge struct {
		at    int64
		delta int64
	}
	var edges []edge
	files, _ := os.ReadDir(ivDir)
	for _, f := range files {
		b, _ := os.ReadFile(filepath.Join(ivDir, f.Name()))
		var s, en, c int64
		if _, err := fmt.Sscan(string(b), &s, &en, &c); err != nil {
			t.Fatalf("bad record %q", b)
		}
		edges = append(edges, edge{s, c}, edge{en, -c})
	}
	if len(files) != n {
		t.Fatalf("%d of %d invocations ran", len(files), n)
	}
	// Ends before starts at the same instant: a release precedes a grant.
	sort.Slice(edges, func(i, j int) bool {
		if edges[i].at != edges[j].at {
			return edges[i].at < edges[j].at
		}
		return edges[i].delta < edges[j].delta
	})
	var cur, max int64
	for _, ed := range edges {
		cur += ed.delta
		if cur > max {
			max = cur
		}
	}
	t.Logf("%d invocations, 3 hosts, TOTAL %d: max held by running children %d, max in ZooKeeper %d, all done in %v",
		n, total, max, zkMax, elapsed.Round(time.Millisecond))
	if max > total || zkMax > total {
		t.Fatalf("TOTAL %d exceeded: children held %d at once, ZooKeeper showed %d", total, max, zkMax)
	}
	if max < 2 {
		t.Errorf("children never overlapped (max %d): the test proves little", max)
	}
	e.noLeaseLeftovers("slots")
}

// TestE2E_LeaseFIFO: with the resource full, four jobs queue one after
// another; they run in that order once it frees.
func TestE2E_LeaseFIFO(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(leaseFleet)
	release := filepath.Join(e.dir, "release")
	holder := e.start("hostA", "run", "-g", "all", "--lock", "holder", "--lease", "slots=1:1", "--",
		e.script("holder", "while [ ! -e "+release+" ]; do sleep 0.01; done\n"))
	e.waitLeaseKids(e.leasesDir("slots"), nil, 1, 10*time.Second)
	order := filepath.Join(e.dir, "order")
	job := e.script("job", "echo $CRONGUARD_LOCK >> "+order+"\n")
	var waiters []*proc
	for i := range 4 {
		host := []string{"hostA", "hostB", "hostC"}[i%3]
		waiters = append(waiters, e.start(host, "run", "-g", "all", "--lock", fmt.Sprintf("w%d", i), "--lease", "slots=1:1", "--", job))
		e.waitLeaseKids(e.queueDir("slots"), regexp.MustCompile(fmt.Sprintf(`^w%d-\d+$`, i)), 1, 10*time.Second)
	}
	os.WriteFile(release, []byte("x"), 0o644)
	holder.wait(t, 10*time.Second)
	for _, w := range waiters {
		if code := w.wait(t, 30*time.Second); code != 0 {
			t.Fatalf("waiter exit %d: %s", code, w.stderr.String())
		}
	}
	b, _ := os.ReadFile(order)
	got := strings.Fields(string(b))
	t.Logf("queue order w0..w3, run order %v", got)
	if !slices.Equal(got, []string{"w0", "w1", "w2", "w3"}) {
		for i, w := range waiters {
			t.Logf("w%d log:\n%s", i, w.logText())
		}
		t.Fatalf("jobs ran in order %v, want the queue's order w0 w1 w2 w3", got)
	}
	e.noLeaseLeftovers("slots")
}

// TestE2E_LeaseWaiterDiesLeavesQueue: a waiting cronguard that is SIGKILLed
// leaves the queue when its session expires, one that gets SIGTERM leaves
// at once (exit 143, a skip logged), and the job queued behind them runs.
func TestE2E_LeaseWaiterDiesLeavesQueue(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(leaseFleet)
	cfg := e.configFile("short.json", e.zkAddr, time.Second)
	release := filepath.Join(e.dir, "release")
	holder := e.start("hostA", "run", "-g", "all", "--lock", "holder", "--lease", "slots=1:1", "--",
		e.script("holder", "while [ ! -e "+release+" ]; do sleep 0.01; done\n"))
	e.waitLeaseKids(e.leasesDir("slots"), nil, 1, 10*time.Second)
	marker := filepath.Join(e.dir, "ran")
	job := e.script("job", "echo $CRONGUARD_LOCK >> "+marker+"\n")
	killed := e.startWithConfig(cfg, "hostB", "run", "-g", "all", "--lock", "killed", "--lease", "slots=1:1", "--", job)
	e.waitLeaseKids(e.queueDir("slots"), regexp.MustCompile(`^killed-`), 1, 10*time.Second)
	termed := e.startWithConfig(cfg, "hostC", "run", "-g", "all", "--lock", "termed", "--lease", "slots=1:1", "--", job)
	e.waitLeaseKids(e.queueDir("slots"), regexp.MustCompile(`^termed-`), 1, 10*time.Second)
	survivor := e.start("hostA", "run", "-g", "all", "--lock", "survivor", "--lease", "slots=1:1", "--", job)
	e.waitLeaseKids(e.queueDir("slots"), regexp.MustCompile(`^survivor-`), 1, 10*time.Second)

	termed.cmd.Process.Signal(syscall.SIGTERM)
	if code := termed.wait(t, 5*time.Second); code != 128+int(syscall.SIGTERM) {
		t.Errorf("SIGTERM while waiting: exit %d, want 143; stderr %s", code, termed.stderr.String())
	}
	if sk := termed.mustEvent(t, "skip"); sk["reason"] != "signal" {
		t.Errorf("skip event %v", sk)
	}
	e.waitLeaseKids(e.queueDir("slots"), regexp.MustCompile(`^termed-`), 0, time.Second)

	killed.cmd.Process.Kill()
	died := time.Now()
	killed.wait(t, 5*time.Second)
	e.waitLeaseKids(e.queueDir("slots"), regexp.MustCompile(`^killed-`), 0, 10*time.Second)
	t.Logf("SIGKILLed waiter's queue entry gone %v after the kill (session_timeout 1s)", time.Since(died).Round(time.Millisecond))
	if k := e.leaseKids(e.queueDir("slots")); len(k) != 1 || !strings.HasPrefix(k[0], "survivor-") {
		t.Fatalf("queue %v, want only the survivor", k)
	}
	os.WriteFile(release, []byte("x"), 0o644)
	holder.wait(t, 10*time.Second)
	if code := survivor.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("survivor exit %d: %s", code, survivor.stderr.String())
	}
	if b, _ := os.ReadFile(marker); string(b) != "survivor\n" {
		t.Fatalf("jobs that ran: %q, want only the survivor", b)
	}
	e.noLeaseLeftovers("slots")
}

// TestE2E_LeaseTimeout: a full resource makes the run skip at the deadline
// (--wait, or resources_wait_timeout), with reason lease_busy, the skip
// code, nothing on stderr and no node of its own left behind.
func TestE2E_LeaseTimeout(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(leaseFleet)
	e.mkdirs(e.prefix+"/semaphores", e.prefix+"/semaphores/slots", e.prefix+"/semaphores/slots/lock", e.leasesDir("slots"))
	e.switchmanNode(e.leasesDir("slots") + "/2_2_")
	marker := filepath.Join(e.dir, "ran")
	job := e.script("job", "touch "+marker+"\n")
	cfgPath := filepath.Join(e.dir, "rwt.json")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`{"zkhosts": %q, "prefix": %q, "resources_wait_timeout": 1}`, e.zkAddr, e.prefix)), 0o644)
	for _, tc := range []struct {
		name string
		p    func() *proc
		want time.Duration
	}{
		{"--wait 700ms", func() *proc {
			return e.start("hostA", "run", "-g", "all", "--wait", "700ms", "--skip-code", "7", "--lease", "slots=1:2", "--", job)
		}, 700 * time.Millisecond},
		{"resources_wait_timeout 1", func() *proc {
			return e.startWithConfig(cfgPath, "hostA", "run", "-g", "all", "--skip-code", "7", "--lease", "slots=1:2", "--", job)
		}, time.Second},
	} {
		start := time.Now()
		p := tc.p()
		code := p.wait(t, 20*time.Second)
		el := time.Since(start)
		t.Logf("%s: skipped after %v", tc.name, el.Round(time.Millisecond))
		if code != 7 {
			t.Fatalf("%s: exit %d, want the skip code 7; stderr %s\nlog:\n%s", tc.name, code, p.stderr.String(), p.logText())
		}
		sk := p.mustEvent(t, "skip")
		if sk["reason"] != "lease_busy" || sk["resource"] != "slots" {
			t.Errorf("%s: skip event %v", tc.name, sk)
		}
		if p.stderr.String() != "" {
			t.Errorf("%s: a skip wrote to stderr: %q", tc.name, p.stderr.String())
		}
		if el < tc.want || el > tc.want+3*time.Second {
			t.Errorf("%s: gave up after %v", tc.name, el)
		}
		if k := e.leaseKids(e.leasesDir("slots")); len(k) != 1 {
			t.Errorf("%s: leases %v, want only switchman's", tc.name, k)
		}
		for _, d := range []string{e.queueDir("slots"), e.prefix + "/semaphores/slots/lock"} {
			if k := e.leaseKids(d); len(k) != 0 {
				t.Errorf("%s: %s left behind: %v", tc.name, d, k)
			}
		}
		if e.exists(e.lockPath("job")) {
			t.Errorf("%s: lock left behind", tc.name)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the job ran without its lease")
	}
}

// TestE2E_LeaseBadSyntax: a bad --lease is a one-line error naming it, exit
// 125, before anything is written to ZooKeeper.
func TestE2E_LeaseBadSyntax(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(leaseFleet)
	marker := filepath.Join(e.dir, "ran")
	job := e.script("job", "touch "+marker+"\n")
	for _, tc := range []struct {
		lease string
		want  string
	}{
		{"slots", "want RES=COUNT:TOTAL"},
		{"slots=1", `no ":TOTAL"`},
		{"slots=one:4", `unexpected "one"`},
		{"slots=1:4/0", "division by zero"},
		{"slots=5:4", "could never be granted"},
		{"slots=1:CPU/0", "division by zero"},
		{"slots=`reboot`:4", "unexpected"},
		{"a/b=1:4", "must not contain '/'"},
		{"nosuch=1:4", `unknown resource(s) nosuch`},
	} {
		p := e.run("hostA", "run", "-g", "all", "--lease", tc.lease, "--", job)
		stderr := p.stderr.String()
		if p.code != 125 {
			t.Errorf("--lease %s: exit %d, want 125; stderr %q", tc.lease, p.code, stderr)
		}
		if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "cronguard: --lease") || !strings.Contains(stderr, tc.want) {
			t.Errorf("--lease %s: stderr %q, want one line naming --lease and %q", tc.lease, stderr, tc.want)
		}
		if len(p.events("error")) == 0 {
			t.Errorf("--lease %s: the log does not say why", tc.lease)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("a job ran with a bad --lease")
	}
	for _, d := range []string{"/semaphores", "/queues", "/locks"} {
		if e.exists(e.prefix + d) {
			t.Errorf("a bad --lease wrote %s", d)
		}
	}
}

// TestE2E_LeaseMacros: CPU, MEMMB and FQDN expand in names and numbers on
// the host that runs (FQDN is the host identity), and the lease nodes show
// the values.
func TestE2E_LeaseMacros(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(leaseFleet)
	cpus, memMB := localCPUs(t), localMemMB(t)
	release := filepath.Join(e.dir, "release")
	job := e.script("job", "while [ ! -e "+release+" ]; do sleep 0.01; done\n")
	for _, tc := range []struct {
		lease, host, res, node string
	}{
		{"FQDN_cpu=1:CPU", "hostB", "hostB_cpu", fmt.Sprintf("1_%d_", cpus)},
		{"FQDN_cpu=CPU/CPU*2:CPU*2", "hostC", "hostC_cpu", fmt.Sprintf("2_%d_", 2*cpus)},
		{"mem=MEMMB/MEMMB:MEMMB", "hostA", "mem", fmt.Sprintf("1_%d_", memMB)},
		{"mem=MEMMB-(MEMMB-3):MEMMB", "hostA", "mem", fmt.Sprintf("3_%d_", memMB)},
	} {
		os.Remove(release)
		p := e.start(tc.host, "run", "-g", "all", "--lock", "macro", "--lease", tc.lease, "--", job)
		e.waitLeaseKids(e.leasesDir(tc.res), regexp.MustCompile(`^`+regexp.QuoteMeta(tc.node)+`\d{10}$`), 1, 10*time.Second)
		os.WriteFile(release, []byte("x"), 0o644)
		if code := p.wait(t, 10*time.Second); code != 0 {
			t.Fatalf("--lease %s: exit %d: %s", tc.lease, code, p.stderr.String())
		}
		e.noLeaseLeftovers(tc.res)
	}
}

func localCPUs(t *testing.T) int {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		t.Skip(err)
	}
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if k, _, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "processor" {
			n++
		}
	}
	return n
}

func localMemMB(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		t.Skip(err)
	}
	var kb int64
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "MemTotal:") {
			fmt.Sscan(strings.TrimPrefix(line, "MemTotal:"), &kb)
		}
	}
	return kb / 1024
}

// TestE2E_SwitchmanMixedFleet: nodes written the way switchman 1.16 writes
// them (lock, lease, queue entry, semaphore mutex) hold cronguard back, and
// cronguard's nodes are where switchman looks, named as it expects.
func TestE2E_SwitchmanMixedFleet(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(leaseFleet)
	// switchman's prepare_zknodes.
	e.mkdirs(e.prefix+"/locks", e.prefix+"/queues", e.prefix+"/semaphores")
	marker := filepath.Join(e.dir, "ran")
	job := e.script("report", "echo ran >> "+marker+"\n")
	ran := func() int { b, _ := os.ReadFile(marker); return strings.Count(string(b), "ran") }

	// 1. A switchman lock holder: cronguard skips.
	smLock, err := e.conn.Create(e.lockPath("report"), []byte("other.example 4242"), zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
	if err != nil {
		t.Fatal(err)
	}
	if p := e.run("hostA", "run", "-g", "all", "--lease", "slots=1:4", "--", job); p.code != 0 || p.mustEvent(t, "skip")["reason"] != "lock_busy" {
		t.Fatalf("with switchman holding the lock: exit %d, log %s", p.code, p.logText())
	}
	e.conn.Delete(smLock, -1)

	// 2. switchman waiting in the queue under the same lock name: cronguard
	// skips as switchman's is_task_in_queue would.
	e.mkdirs(e.queueDir("slots"))
	smQueued := e.switchmanNode(e.queueDir("slots") + "/report-")
	if p := e.run("hostA", "run", "-g", "all", "--lease", "slots=1:4", "--", job); p.code != 0 || p.mustEvent(t, "skip")["reason"] != "already_queued" {
		t.Fatalf("with switchman queued for the same task: exit %d, log %s", p.code, p.logText())
	}
	e.conn.Delete(smQueued, -1)

	// 3. switchman's leases count: 3 of 4 held, 2 more do not fit.
	e.mkdirs(e.prefix+"/semaphores/slots", e.prefix+"/semaphores/slots/lock", e.leasesDir("slots"))
	smLease := e.switchmanNode(e.leasesDir("slots") + "/3_4_")
	if p := e.run("hostA", "run", "-g", "all", "--wait", "300ms", "--lease", "slots=2:4", "--", job); p.code != 0 || p.mustEvent(t, "skip")["reason"] != "lease_busy" {
		t.Fatalf("2 on top of switchman's 3 of 4: exit %d, log %s", p.code, p.logText())
	}
	if ran() != 0 {
		t.Fatal("the job ran while held back")
	}

	// 4. A switchman process ahead in the queue (another task) and one
	// holding the semaphore's mutex: cronguard waits for both, and while it
	// waits its queue entry is where switchman looks.
	smAhead := e.switchmanNode(e.queueDir("slots") + "/other-")
	smMutex := e.switchmanNode(e.prefix + "/semaphores/slots/lock/acquire-")
	p := e.start("hostA", "run", "-g", "all", "--lease", "slots=1:4", "--", e.script("report2",
		"echo ran >> "+marker+"\nwhile [ ! -e "+marker+".release ]; do sleep 0.01; done\n"))
	entry := regexp.MustCompile(`^report2-\d{10}$`) // switchman: /^\Q$lockname\E-\d+$/
	e.waitLeaseKids(e.queueDir("slots"), entry, 1, 10*time.Second)
	time.Sleep(200 * time.Millisecond)
	if ran() != 0 {
		t.Fatal("cronguard overtook switchman's queue entry")
	}
	e.conn.Delete(smAhead, -1)
	time.Sleep(200 * time.Millisecond)
	if ran() != 0 {
		t.Fatal("cronguard ignored switchman's semaphore mutex")
	}
	e.conn.Delete(smMutex, -1)
	waitFile(t, marker, 10*time.Second)

	// While it runs: its lock and its lease are where switchman looks,
	// named as Net::ZooKeeper::Semaphore counts them.
	if !e.exists(e.lockPath("report2")) {
		t.Error("cronguard's lock is not at <prefix>/locks/<lockname>")
	}
	leases := e.leaseKids(e.leasesDir("slots"))
	var ours []string
	for _, l := range leases {
		if regexp.MustCompile(`^1_4_\d{10}$`).MatchString(l) {
			ours = append(ours, l)
		}
	}
	if len(ours) != 1 || len(leases) != 2 {
		t.Errorf("leases %v, want switchman's 3_4_ and cronguard's 1_4_<seq>", leases)
	}
	var held int64
	for _, l := range leases { // Net::ZooKeeper::Semaphore's sum
		c, _ := strconv.ParseInt(strings.SplitN(l, "_", 3)[0], 10, 64)
		held += c
	}
	if held != 4 {
		t.Errorf("switchman would count %d held, want 4", held)
	}
	os.WriteFile(marker+".release", []byte("x"), 0o644)
	if code := p.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit %d: %s", code, p.stderr.String())
	}
	e.conn.Delete(smLease, -1)
	e.noLeaseLeftovers("slots")
}

// TestE2E_LockWaitQueue: --wait waits fairly: the first waiter queues at
// <prefix>/queues/_locks/<lock>-<seq>, a second run of the same job skips
// (already_queued) instead of piling up, the waiter runs once the holder is
// done, and a waiter that runs out of time skips (lock_busy) and leaves no
// entry.
func TestE2E_LockWaitQueue(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(leaseFleet)
	release := filepath.Join(e.dir, "release")
	marker := filepath.Join(e.dir, "ran")
	job := e.script("job", "echo $CRONGUARD_RUN_ID >> "+marker+"\nwhile [ ! -e "+release+" ]; do sleep 0.01; done\n")
	holder := e.start("hostA", "run", "-g", "all", "--", job)
	waitFile(t, marker, 10*time.Second)

	timeout := e.run("hostC", "run", "-g", "all", "--wait", "300ms", "--", job)
	if timeout.code != 0 || timeout.mustEvent(t, "skip")["reason"] != "lock_busy" {
		t.Fatalf("short wait: exit %d, log %s", timeout.code, timeout.logText())
	}
	if k := e.leaseKids(e.queueDir("_locks")); len(k) != 0 {
		t.Fatalf("a timed-out waiter left %v", k)
	}

	waiter := e.start("hostB", "run", "-g", "all", "--wait", "30s", "--", job)
	e.waitLeaseKids(e.queueDir("_locks"), regexp.MustCompile(`^job-\d{10}$`), 1, 10*time.Second)
	start := time.Now()
	second := e.run("hostC", "run", "-g", "all", "--wait", "30s", "--", job)
	if second.code != 0 || second.mustEvent(t, "skip")["reason"] != "already_queued" {
		t.Fatalf("second waiter: exit %d, log %s", second.code, second.logText())
	}
	t.Logf("second waiter skipped after %v", time.Since(start).Round(time.Millisecond))
	os.WriteFile(release, []byte("x"), 0o644)
	holder.wait(t, 10*time.Second)
	if code := waiter.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("waiter exit %d: %s", code, waiter.stderr.String())
	}
	if b, _ := os.ReadFile(marker); strings.Count(string(b), "\n") != 2 {
		t.Fatalf("runs: %q, want the holder and the waiter", b)
	}
	if k := e.leaseKids(e.queueDir("_locks")); len(k) != 0 {
		t.Fatalf("queue entries left: %v", k)
	}
}

// TestE2E_SplayIdenticalAcrossHosts: --splay delays a job by the same
// hash(lock) mod D on every host.
func TestE2E_SplayIdenticalAcrossHosts(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(leaseFleet)
	const d = time.Second
	// A lock name whose delay is long enough to measure, short enough to wait.
	var name string
	var want time.Duration
	for i := 0; ; i++ {
		name = fmt.Sprintf("splayed%d", i)
		h := fnv.New64a()
		h.Write([]byte(name))
		want = time.Duration(h.Sum64() % uint64(d))
		if want > 300*time.Millisecond && want < 700*time.Millisecond {
			break
		}
	}
	var mu sync.Mutex
	delays := map[string]time.Duration{}
	var wg sync.WaitGroup
	for _, host := range []string{"hostA", "hostB", "hostC"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := filepath.Join(e.dir, host+".start")
			start := time.Now()
			p := e.start(host, "run", "--no-lock", "--lock", name, "--splay", d.String(), "--", e.script(host+".sh", "date +%s%N > "+out+"\n"))
			p.wait(t, 10*time.Second)
			ns, _ := strconv.ParseInt(strings.TrimSpace(waitFile(t, out, time.Second)), 10, 64)
			mu.Lock()
			delays[host] = time.Unix(0, ns).Sub(start)
			mu.Unlock()
		}()
	}
	wg.Wait()
	t.Logf("lock %s, --splay %v: hash delay %v; measured start delays %v", name, d, want, delays)
	var lo, hi time.Duration = time.Hour, 0
	for host, got := range delays {
		if got < want {
			t.Errorf("%s started after %v, before its splay %v", host, got, want)
		}
		lo, hi = min(lo, got), max(hi, got)
	}
	if hi-lo > 400*time.Millisecond {
		t.Errorf("start delays differ by %v across hosts: %v", hi-lo, delays)
	}
}
