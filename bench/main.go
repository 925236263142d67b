// Command bench is `make bench`: it measures what cronguard costs per cron
// run against the floor (/bin/true) and what users would otherwise use
// (flock, a python3-kazoo lock-then-exec script), all in the same run, and
// prints one report: whole-process cost, stop latency, the supervise shim's
// cost, peak RSS, binary size, ZooKeeper requests per run and how they
// scale with concurrent wrappers, and the targets met or missed.
// Issue 16 adds the floor (bench/floor, the least a Go wrapper with a shim
// does), cronguard as it was at -base (built from git archive), and a
// burst of 200 wrappers for both, alternating.
//
//	go build -o bin/cronguard-bench ./bench && bin/cronguard-bench -cronguard bin/cronguard
//
// It starts its own ZooKeepers (two standalone servers and a 3-node
// ensemble, tickTime 2 s, loopback only) and removes them at the end.
package main

import (
	"context"
	_ "embed"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-zookeeper/zk"
	"golang.org/x/sys/unix"
)

//go:embed kazoo_lock.py
var kazooScript []byte

type flags struct {
	cronguard string
	python    string
	n         int
	kazooN    int
	warmup    int
	flips     int
	timeouts  int
	timeout   time.Duration
	reqRuns   int
	levels    []int
	levelRuns int
	jobLen    time.Duration
	ensemble  bool
	md        string
	goTool    string
	variants  bool
	rssRuns   int
	timeline  int
	// issue 16
	base        string   // revision whose binary is "today"
	burstN      int      // wrappers per burst
	burstRounds int      // bursts per binary
	compare     []string // name=binary: more guarded-run cases
	only        map[string]bool
}

// baseRev is the commit issue 16's "today" refers to: the last one before
// its changes. -base overrides it.
const baseRev = "920bd82"

// does says whether a section runs (-only lists them; empty: all).
func (f flags) does(section string) bool { return len(f.only) == 0 || f.only[section] }

func parseFlags() flags {
	var f flags
	var levels string
	quick := flag.Bool("quick", false, "a fast smoke run with few samples (not for the record)")
	flag.StringVar(&f.cronguard, "cronguard", "bin/cronguard", "the cronguard binary to measure (make build)")
	flag.StringVar(&f.python, "python", "/usr/bin/python3", "Debian's python3, with python3-kazoo")
	flag.IntVar(&f.n, "n", 400, "runs per whole-process case")
	flag.IntVar(&f.kazooN, "kazoo-n", 100, "runs of the kazoo script (it is slow)")
	flag.IntVar(&f.warmup, "warmup", 20, "unmeasured runs per case first")
	flag.IntVar(&f.flips, "flips", 200, "unassign flips per stop-latency case")
	flag.IntVar(&f.timeouts, "timeouts", 50, "runs of the --timeout latency case")
	flag.DurationVar(&f.timeout, "timeout", 100*time.Millisecond, "--timeout of that case")
	flag.IntVar(&f.reqRuns, "req-runs", 30, "runs per case when counting ZooKeeper requests")
	flag.StringVar(&levels, "levels", "1,10,100,500", "concurrent wrappers")
	flag.IntVar(&f.levelRuns, "level-runs", 10, "at least this many runs per concurrency level")
	flag.DurationVar(&f.jobLen, "job", time.Second, "job length (sleep) in the concurrency runs")
	flag.BoolVar(&f.ensemble, "ensemble", true, "also measure against a 3-node ensemble")
	flag.StringVar(&f.md, "md", "", "also write the report as Markdown to this file")
	flag.StringVar(&f.goTool, "go", "go", "the go command, to build the comparison variants (run from the module root)")
	flag.BoolVar(&f.variants, "variants", true, "also measure a CGO_ENABLED=0 build of cronguard and a minimal shim binary")
	flag.IntVar(&f.rssRuns, "rss-runs", 30, "runs that sample cronguard's peak RSS")
	flag.IntVar(&f.timeline, "timeline", 40, "guarded runs to split into phases with perf (0: none; skipped without perf)")
	flag.StringVar(&f.base, "base", baseRev, "git revision of the cronguard to compare with (built from this repository; empty: none)")
	flag.IntVar(&f.burstN, "burst", 200, "wrappers started at once in the burst test (0: none)")
	flag.IntVar(&f.burstRounds, "burst-rounds", 3, "bursts per binary, alternating")
	var compare, only string
	flag.StringVar(&compare, "compare", "", "more guarded-run cases: NAME=BINARY[,NAME=BINARY...] (candidates)")
	flag.StringVar(&only, "only", "", "run only these sections: cost,timeline,stop,shim,rss,requests,concurrency,burst (comma-separated; empty: all)")
	flag.Parse()
	if compare != "" {
		f.compare = strings.Split(compare, ",")
	}
	if only != "" {
		f.only = map[string]bool{}
		for _, s := range strings.Split(only, ",") {
			f.only[strings.TrimSpace(s)] = true
		}
	}
	if *quick {
		f.n, f.kazooN, f.warmup, f.flips, f.timeouts, f.reqRuns, f.rssRuns = 40, 10, 5, 20, 10, 10, 5
		if levels == "1,10,100,500" {
			levels = "1,10,50"
		}
		f.levelRuns = 3
		f.burstN, f.burstRounds = 50, 1
	}
	for _, s := range strings.Split(levels, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || v < 1 || v > 1000 {
			fmt.Fprintf(os.Stderr, "bench: -levels: %q is not a number in 1..1000\n", s)
			os.Exit(2)
		}
		f.levels = append(f.levels, v)
	}
	return f
}

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case sigrecArg:
			sigrecMain()
			return
		case shimArg:
			shimMain(os.Args[2:])
			return
		case hwmArg:
			hwmMain()
			return
		}
	}
	f := parseFlags()
	if err := run(f); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

func run(f flags) error {
	began := time.Now()
	cg, err := filepath.Abs(f.cronguard)
	if err != nil {
		return err
	}
	if _, err := os.Stat(cg); err != nil {
		return fmt.Errorf("%v (run make build first)", err)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "cronguard-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	errFile, err := os.OpenFile(filepath.Join(dir, "stderr.log"), os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer errFile.Close()

	rep := &report{f: f, began: began, cronguard: cg, loadStart: loadAvg()}
	rep.machine = machineInfo()

	// Kazoo: the peer baseline. Missing: say how to get it, measure the rest.
	kazoo := ""
	if err := exec.Command(f.python, "-c", "import kazoo").Run(); err != nil {
		rep.notes = append(rep.notes, fmt.Sprintf("python3-kazoo is missing (%s -c 'import kazoo' failed): the kazoo baseline was not measured; install it with: sudo apt-get install -y --no-install-recommends python3-kazoo", f.python))
		logf("%s", rep.notes[len(rep.notes)-1])
	} else {
		kazoo = filepath.Join(dir, "kazoo_lock.py")
		if err := os.WriteFile(kazoo, kazooScript, 0o755); err != nil {
			return err
		}
	}

	// Comparison variants, built from this tree: cronguard without cgo
	// (statically linked), and the shim alone in a small binary.
	static, minshim := "", ""
	if f.variants {
		static, minshim = filepath.Join(dir, "cronguard-static"), filepath.Join(dir, "minshim")
		for _, b := range [][2]string{{static, "./cmd/cronguard"}, {minshim, "./bench/minshim"}} {
			cmd := exec.Command(f.goTool, "build", "-trimpath", "-ldflags", "-s -w", "-o", b[0], b[1])
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				rep.notes = append(rep.notes, fmt.Sprintf("could not build the comparison variants (%v: %s); run from the module root, or pass -variants=false", err, strings.TrimSpace(string(out))))
				logf("%s", rep.notes[len(rep.notes)-1])
				static, minshim = "", ""
				break
			}
		}
	}

	// Issue 16: the floor (bench/floor) and cronguard as it was at -base.
	floor, err := buildFloor(f.goTool, dir)
	if err != nil {
		return err
	}
	base := ""
	if f.base != "" {
		logf("building cronguard at %s (-base)", f.base)
		if base, err = buildBase(f.goTool, f.base, dir); err != nil {
			// A shallow clone or a tarball: measure the rest, say so.
			rep.notes = append(rep.notes, fmt.Sprintf("no -base binary, so no comparison with %s: %v", f.base, err))
			logf("%s", rep.notes[len(rep.notes)-1])
			base = ""
		} else {
			rep.baseRev = f.base
		}
	}

	// Every measured binary starts from the same page-cache state: its
	// pages dropped, so that exec pages them in alike. A binary just
	// written by the Go linker and one copied with cp were measured 0.5 ms
	// apart in start-up wall time, identical bytes, until both were
	// dropped and paged in again.
	measured := []string{cg, filepath.Join(filepath.Dir(cg), "cronguard-shim"), floor, base, static, minshim}
	for _, c := range f.compare {
		measured = append(measured, c[strings.LastIndex(c, "=")+1:])
	}
	for _, b := range measured {
		if b == "" || !fileExists(b) {
			continue
		}
		if err := dropPageCache(b); err != nil {
			rep.notes = append(rep.notes, fmt.Sprintf("could not drop %s from the page cache: %v", b, err))
		}
	}

	logf("starting ZooKeeper (2 standalone servers%s, tickTime 2s)", map[bool]string{true: " and a 3-node ensemble", false: ""}[f.ensemble])
	// ^C: remove the servers and the scratch directory, then exit.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var srv *servers
	var srvReady = make(chan struct{})
	go func() {
		<-sigs
		cancel()
		select {
		case <-srvReady:
			if srv != nil {
				srv.close()
			}
		case <-time.After(5 * time.Second):
		}
		os.RemoveAll(dir)
		os.Exit(130)
	}()
	srv, err = startServers(ctx, f.ensemble)
	close(srvReady)
	if err != nil {
		return err
	}
	defer srv.close()
	rep.zkVersion = zkVersion(srv.main.Addr())
	if out, err := exec.Command(cg, "version").Output(); err == nil {
		rep.cgVersion = strings.TrimSpace(string(out))
	}

	// Fleet configs, through cronguard's own operator commands.
	mainAddr, loadAddr := srv.main.Addr(), srv.load.Addr()
	for _, p := range []struct{ addr, prefix string }{
		{mainAddr, "/bench"}, {mainAddr, "/bench-busy"}, {loadAddr, "/load"}, {loadAddr, "/load-busy"},
	} {
		if err := setupPrefix(cg, p.addr, p.prefix); err != nil {
			return err
		}
	}
	ensAddrs := ""
	if srv.ens != nil {
		ensAddrs = ensembleOrder(srv)
		if err := setupPrefix(cg, ensAddrs, "/bench"); err != nil {
			return err
		}
	}
	cfgMain, err := writeConfig(dir, "main.json", mainAddr, "/bench")
	if err != nil {
		return err
	}
	cfgLoad, err := writeConfig(dir, "load.json", loadAddr, "/load")
	if err != nil {
		return err
	}
	conn, err := dial([]string{mainAddr})
	if err != nil {
		return err
	}
	defer conn.Close()
	// The busy lock: held by the harness's session for the whole run.
	if err := holdLock(conn, "/bench-busy/locks/true"); err != nil {
		return fmt.Errorf("holding the busy lock: %w", err)
	}

	// 1. Whole-process cost, interleaved.
	envMain := []string{"CRONGUARD_CONFIG=" + cfgMain, "CRONGUARD_HOSTNAME=h1"}
	lockFile := filepath.Join(dir, "flock.lock")
	cases := []command{
		{name: "/bin/true", argv: []string{"/bin/true"}},
		{name: "flock FILE true", argv: []string{"flock", lockFile, "true"}},
	}
	if kazoo != "" {
		cases = append(cases, command{name: "kazoo lock-then-exec (python3-kazoo)", argv: []string{f.python, kazoo, mainAddr, "/bench", "h1", "g", "kz", "true"}})
	}
	cases = append(cases, command{name: floorName, argv: []string{floor, mainAddr, "/bench", "/bench/floor-lock", "true"}})
	cases = append(cases,
		command{name: "cronguard version (no ZooKeeper)", argv: []string{cg, "version"}},
		command{name: "cronguard run --group g -- true", argv: []string{cg, "run", "--group", "g", "--", "true"}, env: envMain},
		command{name: "  same, --no-lock", argv: []string{cg, "run", "--no-lock", "--group", "g", "--", "true"}, env: envMain},
		command{name: "  same, --schedule (claims its slot)", argv: []string{cg, "run", "--group", "g", "--schedule", "* * * * *", "--now", nowArg, "--", "true"}, env: envMain},
		command{name: "  skip: slot already ran", argv: []string{cg, "run", "--skip-code", "3", "--group", "g", "--schedule", "* * * * *", "--now", "2001-01-01T00:00:00Z", "--", "true"}, env: envMain, wantExit: 3},
		command{name: "  skip: host not in group", argv: []string{cg, "run", "--skip-code", "3", "--group", "g", "--", "true"}, env: []string{"CRONGUARD_CONFIG=" + cfgMain, "CRONGUARD_HOSTNAME=h2"}, wantExit: 3},
		command{name: "  skip: lock busy", argv: []string{cg, "run", "--skip-code", "3", "--group", "g", "--", "true"}, env: append([]string{"CRONGUARD_PREFIX=/bench-busy"}, envMain...), wantExit: 3},
	)
	if static != "" {
		cases = append(cases, command{name: "  guarded, Go shim (no C shim beside it)", argv: []string{static, "run", "--group", "g", "--", "true"}, env: envMain})
	}
	if base != "" {
		cases = append(cases, command{name: "  guarded, cronguard at " + f.base + " (-base)", argv: []string{base, "run", "--group", "g", "--", "true"}, env: envMain})
	}
	for _, c := range f.compare {
		i := strings.LastIndex(c, "=")
		name, bin, ok := c[:max(i, 0)], c[i+1:], i > 0
		if !ok {
			return fmt.Errorf("-compare: %q is not NAME=BINARY", c)
		}
		cases = append(cases, command{name: "  guarded, " + name, argv: []string{bin, "run", "--group", "g", "--", "true"}, env: envMain})
	}
	if ensAddrs != "" {
		cases = append(cases, command{name: "  guarded, 3-node ensemble", argv: []string{cg, "run", "--group", "g", "--", "true"}, env: append([]string{"CRONGUARD_ZK=" + ensAddrs}, envMain...)})
	}
	if f.does("cost") {
		logf("whole-process cost: %d runs per case (kazoo %d), interleaved", f.n, f.kazooN)
		// "skip: slot already ran" needs a slot claimed later than its own.
		runOnce([]string{cg, "run", "--group", "g", "--schedule", "* * * * *", "--now", nowArg, "--", "true"}, envMain, errFile)
		rep.cases, err = measureCases(cases, f, errFile)
		if err != nil {
			return err
		}
	}

	if f.timeline > 0 && f.does("timeline") {
		logf("timeline: %d guarded runs under perf", f.timeline)
		if rep.timeline, err = timeline(cg, envMain, f.timeline, dir); err != nil {
			rep.notes = append(rep.notes, "no phase breakdown: "+err.Error())
			logf("%s", rep.notes[len(rep.notes)-1])
		}
	}

	if f.does("stop") {
		// 2. Stop latency.
		logf("stop latency: helper calibration, %d unassign flips, %d --timeout runs", f.flips, f.timeouts)
		if rep.sigrecCal, err = calibrateSigrec(self, 100); err != nil {
			return fmt.Errorf("sigrec calibration: %w", err)
		}
		if rep.flipAck, rep.flipSend, err = flipLatency(conn, "/bench", cg, self, envMain, f.flips, errFile); err != nil {
			return fmt.Errorf("unassign latency: %w", err)
		}
		if ensAddrs != "" {
			econn, err := dial([]string{strings.Split(ensAddrs, ",")[2]})
			if err != nil {
				return err
			}
			envEns := append([]string{"CRONGUARD_ZK=" + ensAddrs}, envMain...)
			rep.flipEnsAck, _, err = flipLatency(econn, "/bench", cg, self, envEns, f.flips, errFile)
			econn.Close()
			if err != nil {
				return fmt.Errorf("unassign latency (ensemble): %w", err)
			}
		}
		if rep.toUpper, err = timeoutLatency(cg, self, envMain, filepath.Join(dir, "timeout.log"), f.timeout, f.timeouts, errFile); err != nil {
			return fmt.Errorf("timeout latency: %w", err)
		}
	}

	if f.does("shim") {
		// 3. The shim's cost, and peak RSS.
		logf("shim cost: %d supervise.Start runs each way", f.n)
		var names, bins []string
		if cshim := filepath.Join(filepath.Dir(cg), "cronguard-shim"); fileExists(cshim) {
			names, bins = append(names, "via the C shim (bin/cronguard-shim, as shipped)"), append(bins, cshim)
		}
		names, bins = append(names, "via the Go shim: cronguard re-exec'd (the fallback)"), append(bins, cg)
		if static != "" {
			names, bins = append(names, "  a minimal Go shim binary (bench/minshim, CGO_ENABLED=0)"), append(bins, minshim)
		}
		if rep.shims, err = shimCost(self, f.n, names, bins); err != nil {
			return fmt.Errorf("shim cost: %w", err)
		}
	}
	if f.does("rss") {
		logf("peak RSS: %d runs", f.rssRuns)
		if rep.rssCG, rep.rssShim, err = peakRSS(cg, self, envMain, f.rssRuns); err != nil {
			return err
		}
	}

	envLoad := []string{"CRONGUARD_CONFIG=" + cfgLoad, "CRONGUARD_HOSTNAME=h1"}
	if f.does("requests") {
		// 4. ZooKeeper requests per run, on the dedicated server.
		logf("ZooKeeper requests per run: %d runs per case", f.reqRuns)
		if rep.idlePackets, err = idlePackets(loadAddr); err != nil {
			return err
		}
		reqCases := []command{
			{name: "guarded run", argv: []string{cg, "run", "--group", "g", "--", "true"}, env: envLoad},
			{name: "--no-lock", argv: []string{cg, "run", "--no-lock", "--group", "g", "--", "true"}, env: envLoad},
			{name: "--schedule (claims its slot)", argv: []string{cg, "run", "--group", "g", "--schedule", "* * * * *", "--now", nowArg, "--", "true"}, env: envLoad},
			{name: "skip: slot already ran", argv: []string{cg, "run", "--skip-code", "3", "--group", "g", "--schedule", "* * * * *", "--now", "2001-01-01T00:00:00Z", "--", "true"}, env: envLoad, wantExit: 3},
			{name: "skip: host not in group", argv: []string{cg, "run", "--skip-code", "3", "--group", "g", "--", "true"}, env: []string{"CRONGUARD_CONFIG=" + cfgLoad, "CRONGUARD_HOSTNAME=h2"}, wantExit: 3},
			{name: "skip: lock busy", argv: []string{cg, "run", "--skip-code", "3", "--group", "g", "--", "true"}, env: append([]string{"CRONGUARD_PREFIX=/load-busy"}, envLoad...), wantExit: 3},
		}
		if kazoo != "" {
			reqCases = append(reqCases, command{name: "kazoo script (for comparison)", argv: []string{f.python, kazoo, loadAddr, "/load", "h1", "g", "kz", "true"}})
		}
		for _, c := range reqCases {
			// The busy lock's holder is a session of the harness's own, open
			// only for that case (its pings, one per 10 s, would count).
			var holder *zk.Conn
			if strings.Contains(c.name, "busy") {
				if holder, err = dial([]string{loadAddr}); err != nil {
					return err
				}
				if err := holdLock(holder, "/load-busy/locks/true"); err != nil {
					holder.Close()
					return err
				}
				time.Sleep(100 * time.Millisecond)
			}
			v, err := perRun(loadAddr, c, f.reqRuns, errFile)
			if holder != nil {
				holder.Close()
				time.Sleep(100 * time.Millisecond) // let the close settle before counting again
			}
			if err != nil {
				return err
			}
			rep.requests = append(rep.requests, reqResult{c.name, v})
		}
	}

	if f.does("concurrency") {
		// 5. Concurrency. Every wrapper has a lock (and so a run record) of its
		// own; the records are created first, empty, so that no level pays for
		// the first run of a job.
		maxLevel := 0
		for _, c := range f.levels {
			maxLevel = max(maxLevel, c)
		}
		if err := precreateRecords(loadAddr, "/load", maxLevel); err != nil {
			return err
		}
		for _, c := range f.levels {
			logf("concurrency: %d wrappers at once", c)
			lr, err := concurrency(loadAddr, cg, envLoad, c, f.levelRuns, f.jobLen, errFile)
			if err != nil {
				return err
			}
			rep.levels = append(rep.levels, lr)
		}
	}
	if f.does("burst") && f.burstN > 0 {
		if err := precreateRecords(loadAddr, "/load", f.burstN); err != nil {
			return err
		}
		names, bins := []string{"this tree (" + cg + ")"}, []wrapperArgv{cronguardArgv(cg)}
		if base != "" {
			names, bins = append(names, "cronguard at "+f.base+" (-base)"), append(bins, cronguardArgv(base))
		}
		for _, c := range f.compare {
			i := strings.LastIndex(c, "=")
			name, bin := c[:i], c[i+1:]
			names, bins = append(names, name), append(bins, cronguardArgv(bin))
		}
		// The floor too: how soon the least a Go wrapper with a shim
		// gets through the same burst.
		names, bins = append(names, floorName), append(bins, floorArgv(floor, loadAddr, "/load"))
		logf("burst: %d wrappers at once, %d rounds per binary, alternating", f.burstN, f.burstRounds)
		if rep.burst, err = burst(names, bins, envLoad, f.burstN, f.burstRounds, f.jobLen, errFile); err != nil {
			return err
		}
	}

	// 6. Size and package init.
	if st, err := os.Stat(cg); err == nil {
		rep.binSize = st.Size()
	}
	rep.initMS = initTime(cg, 20)

	rep.elapsed = time.Since(began)
	rep.loadEnd = loadAvg()
	out := rep.text()
	fmt.Print(out)
	if f.md != "" {
		if err := os.WriteFile(f.md, []byte(rep.markdown()), 0o644); err != nil {
			return err
		}
		logf("wrote %s", f.md)
	}
	return nil
}

// ensembleOrder returns the ensemble's connect string with a follower
// first: cronguard connects to it (its host provider goes in order), while
// the harness writes through the last server, so a config change travels
// writer -> leader -> the follower cronguard watches from.
func ensembleOrder(srv *servers) string {
	ss := srv.ens.Servers()
	leader, _ := srv.ens.Leader()
	var followers []string
	lead := ""
	for _, s := range ss {
		if leader != nil && s == leader {
			lead = s.Addr()
		} else {
			followers = append(followers, s.Addr())
		}
	}
	if lead == "" {
		return srv.ens.Addrs()
	}
	// follower, leader, other follower: the harness writes via the last one.
	return strings.Join([]string{followers[0], lead, followers[1]}, ",")
}

// measureCases runs every case f.warmup times, then f.n times, in a
// shuffled order per round so that no case always follows the same one.
// The kazoo case, being ~20x slower, runs only in f.kazooN of the rounds.
func measureCases(cases []command, f flags, errFile *os.File) ([]*caseResult, error) {
	res := make([]*caseResult, len(cases))
	for i, c := range cases {
		res[i] = &caseResult{cmd: c}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	kazooEvery := max(1, f.n/max(1, f.kazooN))
	order := make([]int, len(cases))
	for i := range order {
		order[i] = i
	}
	for round := -f.warmup; round < f.n; round++ {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, i := range order {
			c := res[i]
			if strings.HasPrefix(c.cmd.name, "kazoo") && round >= 0 && round%kazooEvery != 0 {
				continue
			}
			if strings.HasPrefix(c.cmd.name, "kazoo") && round < -3 {
				continue // three warm-up runs are enough for it
			}
			r := runOnce(c.cmd.argv, c.cmd.env, errFile)
			if round < 0 {
				if r.code != c.cmd.wantExit {
					return nil, fmt.Errorf("%s: exit %d, want %d: %s", c.cmd.name, r.code, c.cmd.wantExit, r.errText)
				}
				continue
			}
			c.add(r)
			if c.failures > max(2, f.n/50) {
				return nil, fmt.Errorf("%s: %d failures, last: %s", c.cmd.name, c.failures, c.lastErr)
			}
		}
	}
	return res, nil
}

// idlePackets checks that nothing but the runs counts: the packets the
// load server receives in 2 s with no client (mntr itself included).
func idlePackets(addr string) (float64, error) {
	pc, err := startCounting(addr)
	if err != nil {
		return 0, err
	}
	time.Sleep(2 * time.Second)
	d, _, err := pc.stop()
	return d, err
}

func zkVersion(addr string) string {
	out, err := zktestFourLetter(addr, "mntr")
	if err != nil {
		return "?"
	}
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, "zk_version\t"); ok {
			v, _, _ = strings.Cut(v, ",")
			v, _, _ = strings.Cut(v, "-$") // Debian's unexpanded "-${mvngit.commit.id}"
			return v
		}
	}
	return "?"
}

// initTime returns the median of the package-init time of a `cronguard
// version` run, from GODEBUG=inittrace=1 (sum of the "clock" column).
func initTime(cg string, n int) float64 {
	var vals []float64
	for range n {
		cmd := exec.Command(cg, "version")
		cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return 0
		}
		sum := 0.0
		for _, l := range strings.Split(string(out), "\n") {
			f := strings.Fields(l)
			// init PKG @T ms, C ms clock, B bytes, A allocs
			if len(f) >= 7 && f[0] == "init" && f[6] == "clock," {
				v, _ := strconv.ParseFloat(f[4], 64)
				sum += v
			}
		}
		vals = append(vals, sum)
	}
	if len(vals) == 0 {
		return 0
	}
	s := make(sample, len(vals))
	for i, v := range vals {
		s[i] = time.Duration(v * float64(time.Millisecond))
	}
	return float64(s.median()) / float64(time.Millisecond)
}

// machineInfo describes the box: CPU model, cores, memory, kernel.
func machineInfo() []string {
	var out []string
	model := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	out = append(out, fmt.Sprintf("CPU: %s, nproc %d", model, runtime.NumCPU()))
	if b, err := exec.Command("free", "-h").Output(); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "Mem:") {
				f := strings.Fields(l)
				out = append(out, fmt.Sprintf("memory: %s total (free -h)", f[1]))
			}
		}
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		out = append(out, "kernel: "+unix.ByteSliceToString(u.Release[:]))
	}
	out = append(out, "Go: "+runtime.Version())
	return out
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// dropPageCache writes path's dirty pages back and drops all of its pages
// from the page cache (a clean page can be dropped, a dirty one cannot).
func dropPageCache(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return err
	}
	return unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
}
