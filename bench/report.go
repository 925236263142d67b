package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

type reqResult struct {
	name   string
	perRun float64
}

type report struct {
	f         flags
	began     time.Time
	elapsed   time.Duration
	cronguard string
	machine   []string
	zkVersion string
	cgVersion string
	loadStart string
	loadEnd   string
	notes     []string

	cases []*caseResult

	sigrecCal, flipAck, flipSend, flipEnsAck sample
	toUpper                                  sample

	shims          []shimRow
	rssCG, rssShim []int64

	idlePackets float64
	requests    []reqResult
	levels      []levelResult

	timeline *table

	binSize int64
	initMS  float64

	baseRev string
	burst   []*burstRow
}

// floorName is the whole-process case of bench/floor (issue 16).
const floorName = "floor: minimal Go wrapper + shim (bench/floor)"

// cpuRatio is a's median CPU over b's.
func cpuRatio(a, b *caseResult) string {
	if a == nil || b == nil || len(a.cpu) == 0 || len(b.cpu) == 0 {
		return ""
	}
	return ratio2(a.cpu.median(), b.cpu.median())
}

type section struct {
	title string
	tab   *table
	notes []string
}

func (r *report) find(prefix string) *caseResult {
	for _, c := range r.cases {
		if strings.HasPrefix(c.cmd.name, prefix) {
			return c
		}
	}
	return nil
}

func mb(kb int64) string { return fmt.Sprintf("%.1f", float64(kb)/1024) }

func (r *report) sections() []section {
	var out []section
	trueC, flockC, kazooC := r.find("/bin/true"), r.find("flock"), r.find("kazoo")
	med := func(c *caseResult) time.Duration {
		if c == nil {
			return 0
		}
		return c.wall.median()
	}

	// Whole-process cost.
	floorC := r.find(floorName)
	t := &table{head: []string{"case", "runs", "median ms", "p90 ms", "p99 ms", "/ true", "/ flock", "kazoo /", "/ floor", "CPU ms", "CPU / floor"}}
	for _, c := range r.cases {
		t.add(c.cmd.name, strconv.Itoa(len(c.wall)), ms(c.wall.median()), ms(c.wall.p90()), ms(c.wall.p99()),
			ratio(c.wall.median(), med(trueC)), ratio(c.wall.median(), med(flockC)), ratio(med(kazooC), c.wall.median()),
			ratio2(c.wall.median(), med(floorC)), ms(c.cpu.median()), cpuRatio(c, floorC))
	}
	notes := []string{
		"Wall time from fork to reap of the whole process, measured by the harness, the cases interleaved in a shuffled order, after warm-up runs. Ratios are of medians: `/ true` and `/ flock` = how many times the baseline's time, `kazoo /` = how many times faster than the kazoo script. CPU = user+system time of the process and the children it reaped (median).",
		"`/ floor` and `CPU / floor`: how many times the floor's median wall time and CPU. The floor (bench/floor, built by the harness from this tree, issue 16) is the least a Go wrapper with a shim does: it connects (go-zookeeper, default options), reads the fleet config znode with a watch, creates an ephemeral node, starts a re-exec'd copy of itself that starts the job and waits for it, then deletes the node and closes; no config file, logging, run record or signal handling.",
		"The cronguard runs read a local config file (zkhosts, prefix, logfile), as in production, and use a standalone ZooKeeper unless marked. `Go shim (no C shim beside it)`: the same tree built static in a directory of its own, where cronguard finds no `cronguard-shim` and starts the job through itself re-exec'd (the Go shim, the fallback): the C shim's gain, in the same run.",
	}
	for _, c := range r.cases {
		if c.failures > 0 {
			notes = append(notes, fmt.Sprintf("%s: %d failed runs (left out), last: %s", c.cmd.name, c.failures, c.lastErr))
		}
	}
	out = append(out, section{"Whole-process cost per run", t, notes})
	if r.timeline != nil {
		out = append(out, section{"Where a guarded run's time goes", r.timeline, []string{
			fmt.Sprintf("%d runs of `cronguard run --group g -- /bin/true` under `perf record` with scheduler and syscall tracepoints (process exec/exit, connect, writes to the ZooKeeper socket); tracing adds a little to each phase.", r.f.timeline),
		}})
	}

	// Stop latency.
	t = &table{head: []string{"stop", "n", "median ms", "p90 ms", "p99 ms", "max ms"}}
	row := func(name string, s sample) {
		if len(s) > 0 {
			t.add(name, strconv.Itoa(len(s)), ms(s.median()), ms(s.p90()), ms(s.p99()), ms(s.max()))
		}
	}
	row("unassign write acked -> SIGTERM in the job (standalone)", r.flipAck)
	row("  same, from the write's send", r.flipSend)
	row("unassign write acked -> SIGTERM (3-node, cronguard on a follower)", r.flipEnsAck)
	row("--timeout expiry -> SIGTERM (upper bound, within 1 ms)", r.toUpper)
	row("the helper alone: kill(2) -> its SIGTERM timestamp", r.sigrecCal)
	out = append(out, section{"Stop latency", t, []string{
		"The job is a tiny Go helper that timestamps SIGTERM (CLOCK_REALTIME, same box); the last row is its own share, included in every row above. Unassign: the harness sets the prefix znode's data to a fleet config without the host (what `cronguard unassign` writes) and takes the time once ZooKeeper acknowledged the write.",
		fmt.Sprintf("--timeout %v: cronguard arms the timer just after it logs the `start` event; the figure is SIGTERM - that event's time - timeout, and the event's time has millisecond resolution (truncated), so it overstates the latency by up to 1 ms.", r.f.timeout),
	}})

	// Shim.
	if len(r.shims) > 0 {
		direct := r.shims[len(r.shims)-1].s
		t = &table{head: []string{"supervise.Start(/bin/true) until Done", "n", "median ms", "p90 ms", "p99 ms", "shim's cost (median - direct)"}}
		for i, sr := range r.shims {
			cost := ms(sr.s.median() - direct.median())
			if i == len(r.shims)-1 {
				cost = ""
			}
			t.add(sr.name, strconv.Itoa(len(sr.s)), ms(sr.s.median()), ms(sr.s.p90()), ms(sr.s.p99()), cost)
		}
		out = append(out, section{"The supervise shim's cost per run", t, []string{"Measured in one process that is a child subreaper, as cronguard is; the ways interleaved. The shim is what kills the job's whole tree when cronguard is SIGKILLed."}})
	}

	if len(r.rssCG) > 0 {
		t = &table{head: []string{"peak RSS (VmHWM) during a guarded run", "n", "median MB", "max MB"}}
		t.add("cronguard", strconv.Itoa(len(r.rssCG)), mb(medianKB(r.rssCG)), mb(maxKB(r.rssCG)))
		t.add("its shim", strconv.Itoa(len(r.rssShim)), mb(medianKB(r.rssShim)), mb(maxKB(r.rssShim)))
		out = append(out, section{"Memory", t, []string{
			"Read from /proc/PID/status by the job itself while the run is in progress (cronguard has connected, read the config, taken the lock and started the shim by then; what follows is logging and the session's close). VmHWM is per address space; wait4's ru_maxrss is not used because it keeps the forking parent's high-water mark across exec.",
		}})
	}

	// Requests.
	t = &table{head: []string{"ZooKeeper requests per run", "requests"}}
	for _, q := range r.requests {
		t.add(q.name, fmt.Sprintf("%.2f", q.perRun))
	}
	out = append(out, section{"ZooKeeper requests per run", t, []string{
		fmt.Sprintf("zk_packets_received delta / runs on a dedicated standalone server, %d sequential runs per case; every packet counts (the session's connect and close, pings), less the harness's own `mntr` commands, which ZooKeeper also counts. Idle check: the server received %.0f packets in 2 s with no client.", r.f.reqRuns, r.idlePackets),
	}})

	t = &table{head: []string{"concurrent wrappers", "runs", "failed", "requests/run", "overhead median ms", "p90 ms", "p99 ms", "CPU ms/run", "max connections", "ZK avg/max latency ms", "slowest round s"}}
	for _, l := range r.levels {
		t.add(strconv.Itoa(l.conc), strconv.Itoa(l.runs), strconv.Itoa(l.failures), fmt.Sprintf("%.2f", l.perRun),
			ms(l.overhead.median()), ms(l.overhead.p90()), ms(l.overhead.p99()), ms(l.cpu.median()), strconv.Itoa(l.maxConns),
			fmt.Sprintf("%.1f / %.0f", l.avgLatMS, l.maxLatMS), fmt.Sprintf("%.1f", l.wallRound.Seconds()))
	}
	lnotes := []string{fmt.Sprintf("N `cronguard run --group g --lock jI -- sleep %v` started at once (a lock each, all eligible), on the dedicated server; overhead = each wrapper's wall time minus the job's %v; CPU = user+system time of a wrapper with its shim and job; max connections = the most client connections the server had at once (mntr, polled every 50 ms). All of it shares the 2 cores with the ZooKeeper JVM.", r.f.jobLen.Seconds(), r.f.jobLen)}
	for _, l := range r.levels {
		if l.failures > 0 {
			lnotes = append(lnotes, fmt.Sprintf("%d wrappers: %d failed, last: %s", l.conc, l.failures, l.lastErr))
		}
	}
	out = append(out, section{"Concurrency", t, lnotes})

	if len(r.burst) > 0 {
		var baseRow *burstRow
		for _, b := range r.burst {
			if strings.Contains(b.name, "(-base)") {
				baseRow = b
			}
		}
		t = &table{head: []string{"burst of " + strconv.Itoa(r.f.burstN) + " wrappers", "rounds", "all finished s (median)", "min s", "max s", "/ base", "CPU ms/wrapper median", "p90", "CPU / base"}}
		for _, b := range r.burst {
			rel, crel := "", ""
			if baseRow != nil && len(baseRow.finish) > 0 && len(b.finish) > 0 {
				rel = ratio2(b.finish.median(), baseRow.finish.median())
				crel = ratio2(b.cpu.median(), baseRow.cpu.median())
			}
			t.add(b.name, strconv.Itoa(len(b.finish)), fmt.Sprintf("%.2f", b.finish.median().Seconds()),
				fmt.Sprintf("%.2f", b.finish.pct(0).Seconds()), fmt.Sprintf("%.2f", b.finish.max().Seconds()), rel,
				ms(b.cpu.median()), ms(b.cpu.p90()), crel)
		}
		out = append(out, section{"Burst at the minute boundary (issue 16)", t, []string{
			fmt.Sprintf("%d `cronguard run --group g --lock jI -- sleep %v` started at once (distinct locks, each with a run record of its own, all eligible) on the dedicated server; all finished = from the start of the burst to the exit of the last wrapper, including the %v job; CPU = user+system time of one wrapper with its shim and job (wait4), median over all wrappers of all rounds. The binaries' bursts alternate in a shuffled order, 0.5 s apart. `-base` is cronguard built by the harness from `git archive` of that revision (issue 16's \"today\"), with the same flags as `make build`. The floor (bench/floor) runs the same jobs with a lock node of its own each (`/load/floor-jI`).", r.f.burstN, r.f.jobLen.Seconds(), r.f.jobLen),
		}})
	}

	// Targets.
	out = append(out, section{"Targets (issues 7 and 16)", r.targets(), nil})
	return out
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

func (r *report) targets() *table {
	t := &table{head: []string{"target", "measured", "verdict"}}
	g, flock, kazoo := r.find("cronguard run"), r.find("flock"), r.find("kazoo")
	if g != nil && flock != nil {
		x := float64(g.wall.median()) / float64(flock.wall.median())
		t.add("guarded run <= 3x flock", fmt.Sprintf("%.1fx (%s vs %s ms median)", x, ms(g.wall.median()), ms(flock.wall.median())), verdict(x <= 3))
	}
	if g != nil && kazoo != nil {
		x := float64(kazoo.wall.median()) / float64(g.wall.median())
		t.add("guarded run >= 5x faster than kazoo", fmt.Sprintf("%.1fx (%s vs %s ms median)", x, ms(g.wall.median()), ms(kazoo.wall.median())), verdict(x >= 5))
	} else {
		t.add("guarded run >= 5x faster than kazoo", "not measured (python3-kazoo missing)", "-")
	}
	stopRow := func(name string, s sample) {
		if len(s) > 0 {
			t.add(name+" p99 < 50 ms", fmt.Sprintf("p99 %s ms (median %s)", ms(s.p99()), ms(s.median())), verdict(s.p99() < 50*time.Millisecond))
		}
	}
	stopRow("unassign -> SIGTERM (standalone)", r.flipAck)
	stopRow("unassign -> SIGTERM (3-node)", r.flipEnsAck)
	stopRow("--timeout -> SIGTERM (upper bound)", r.toUpper)
	if fl := r.find(floorName); g != nil && fl != nil {
		x := float64(g.wall.median()) / float64(fl.wall.median())
		t.add("guarded run wall <= 1.05x the floor", fmt.Sprintf("%.2fx (%s vs %s ms median)", x, ms(g.wall.median()), ms(fl.wall.median())), verdict(x <= 1.05))
		y := float64(g.cpu.median()) / float64(fl.cpu.median())
		t.add("guarded run CPU <= 1.05x the floor", fmt.Sprintf("%.2fx (%s vs %s ms median)", y, ms(g.cpu.median()), ms(fl.cpu.median())), verdict(y <= 1.05))
	}
	if len(r.burst) > 0 && r.baseRev == "" {
		t.add(fmt.Sprintf("burst of %d finishes >= 1/3 sooner than before", r.f.burstN), "not measured (no -base binary)", "-")
	}
	if len(r.burst) >= 2 && len(r.burst[0].finish) > 0 {
		var b0, bb *burstRow = r.burst[0], nil
		for _, b := range r.burst {
			if strings.Contains(b.name, "(-base)") {
				bb = b
			}
		}
		if bb != nil && len(bb.finish) > 0 {
			x := float64(b0.finish.median()) / float64(bb.finish.median())
			t.add(fmt.Sprintf("burst of %d finishes >= 1/3 sooner than %s", r.f.burstN, r.baseRev), fmt.Sprintf("%.2f s vs %.2f s (%.0f%% sooner); CPU/wrapper %s vs %s ms", b0.finish.median().Seconds(), bb.finish.median().Seconds(), (1-x)*100, ms(b0.cpu.median()), ms(bb.cpu.median())), verdict(x <= 2.0/3))
		}
	}
	if len(r.rssCG) > 0 {
		peak := maxKB(r.rssCG)
		t.add("peak RSS < 20 MB", fmt.Sprintf("cronguard %s MB max (median %s), shim %s MB", mb(peak), mb(medianKB(r.rssCG)), mb(maxKB(r.rssShim))), verdict(peak < 20*1024))
	}
	if len(r.requests) > 0 {
		worst := 0.0
		for _, q := range r.requests {
			if !strings.HasPrefix(q.name, "kazoo") {
				worst = max(worst, q.perRun)
			}
		}
		t.add("<= 8 ZooKeeper requests per run", fmt.Sprintf("%.2f (worst case of a run)", worst), verdict(worst <= 8))
	}
	if len(r.levels) > 0 {
		lo, hi := r.levels[0].perRun, r.levels[0].perRun
		var parts []string
		for _, l := range r.levels {
			lo, hi = min(lo, l.perRun), max(hi, l.perRun)
			parts = append(parts, fmt.Sprintf("%d: %.2f", l.conc, l.perRun))
		}
		t.add("requests per run flat with concurrency (spread <= 0.5)", strings.Join(parts, ", "), verdict(hi-lo <= 0.5 && hi <= 8))
	}
	return t
}

func maxKB(v []int64) int64 {
	var m int64
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

func medianKB(v []int64) int64 {
	s := make(sample, len(v))
	for i, x := range v {
		s[i] = time.Duration(x)
	}
	return int64(s.median())
}

func (r *report) header() []string {
	h := []string{
		"date: " + r.began.Format("2006-01-02 15:04 MST"),
	}
	h = append(h, r.machine...)
	h = append(h,
		"ZooKeeper: "+r.zkVersion+" (Debian package), tickTime 2 s, loopback; session timeout 30 s",
		fmt.Sprintf("cronguard: %s (`%s`), %.1f MB; package init (GODEBUG=inittrace=1, median) %.2f ms", r.cronguard, r.cgVersion, float64(r.binSize)/(1<<20), r.initMS),
		fmt.Sprintf("bench took %v; load average (1/5/15 min) at start %s, at end %s (other work on the box inflates the tails)", r.elapsed.Round(time.Second), r.loadStart, r.loadEnd),
	)
	return h
}

func (r *report) text() string {
	var b strings.Builder
	b.WriteString("\n== cronguard benchmarks ==\n")
	for _, l := range r.header() {
		b.WriteString(l + "\n")
	}
	for _, n := range r.notes {
		b.WriteString("note: " + n + "\n")
	}
	for _, s := range r.sections() {
		if len(s.tab.rows) == 0 {
			continue // a section left out with -only
		}
		b.WriteString("\n-- " + s.title + " --\n")
		b.WriteString(s.tab.text())
	}
	return b.String()
}

func (r *report) markdown() string {
	var b strings.Builder
	for _, l := range r.header() {
		b.WriteString("- " + l + "\n")
	}
	for _, n := range r.notes {
		b.WriteString("- note: " + n + "\n")
	}
	for _, s := range r.sections() {
		if len(s.tab.rows) == 0 {
			continue // a section left out with -only
		}
		b.WriteString("\n### " + s.title + "\n\n")
		b.WriteString(s.tab.markdown())
		for _, n := range s.notes {
			b.WriteString("\n" + n + "\n")
		}
	}
	return b.String()
}
