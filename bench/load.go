package main

import (
	"fmt"
	"os"
	"sync"
	"time"
)

// perRun counts the ZooKeeper requests (zk_packets_received on a server no
// one else uses) of n sequential runs of cmd, divided by n.
func perRun(addr string, cmd command, n int, errFile *os.File) (float64, error) {
	// One unmeasured run first: a job's first run ever also creates its
	// run record (and the parents of it and of the lock).
	if r := runOnce(cmd.argv, cmd.env, errFile); r.code != cmd.wantExit {
		return 0, fmt.Errorf("%s: exit %d, want %d: %s", cmd.name, r.code, cmd.wantExit, r.errText)
	}
	pc, err := startCounting(addr)
	if err != nil {
		return 0, err
	}
	for i := range n {
		r := runOnce(cmd.argv, cmd.env, errFile)
		if r.code != cmd.wantExit {
			return 0, fmt.Errorf("%s run %d: exit %d, want %d: %s", cmd.name, i, r.code, cmd.wantExit, r.errText)
		}
	}
	d, _, err := pc.stop()
	if err != nil {
		return 0, err
	}
	return d / float64(n), nil
}

// levelResult is one concurrency level.
type levelResult struct {
	conc      int
	runs      int
	failures  int
	lastErr   string
	perRun    float64
	overhead  sample // wall time of each wrapper minus the job's own
	cpu       sample // user+system time of each wrapper (with its shim and job)
	maxConns  int    // most client connections the server had at once
	maxLatMS  float64
	avgLatMS  float64
	wallRound time.Duration // the slowest round
}

// concurrency starts conc wrappers at once, each with a lock of its own and
// a job that sleeps jobLen (so that the wrappers really overlap), for
// enough rounds to make runs >= minRuns, and reports the ZooKeeper
// requests per run, the wrappers' overhead and the server's latency.
func concurrency(addr string, cronguard string, env []string, conc, minRuns int, jobLen time.Duration, errFile *os.File) (levelResult, error) {
	lr := levelResult{conc: conc}
	rounds := max(1, (minRuns+conc-1)/conc)
	if _, err := zktestFourLetter(addr, "srst"); err != nil { // resets the latency figures
		return lr, err
	}
	pc, err := startCounting(addr)
	if err != nil {
		return lr, err
	}
	// Watch the number of client connections while the rounds run.
	stop := make(chan struct{})
	var pollWG sync.WaitGroup
	pollWG.Add(1)
	go func() {
		defer pollWG.Done()
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			if m, err := mntr(addr); err == nil {
				lr.maxConns = max(lr.maxConns, int(m["zk_num_alive_connections"]))
			}
		}
	}()
	var mu sync.Mutex
	for round := range rounds {
		var wg sync.WaitGroup
		start := make(chan struct{})
		t0 := time.Now()
		for i := range conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				argv := []string{cronguard, "run", "--group", "g", "--lock", fmt.Sprintf("j%d", i),
					"--", "/bin/sleep", fmt.Sprintf("%.3f", jobLen.Seconds())}
				<-start
				r := runOnce(argv, env, errFile)
				mu.Lock()
				defer mu.Unlock()
				lr.runs++
				if r.code != 0 {
					lr.failures++
					lr.lastErr = fmt.Sprintf("round %d wrapper %d: exit %d: %s", round, i, r.code, r.errText)
					return
				}
				lr.overhead = append(lr.overhead, r.wall-jobLen)
				lr.cpu = append(lr.cpu, r.usr+r.sys)
			}()
		}
		close(start)
		wg.Wait()
		lr.wallRound = max(lr.wallRound, time.Since(t0))
	}
	close(stop)
	pollWG.Wait()
	d, m, err := pc.stop()
	if err != nil {
		return lr, err
	}
	lr.perRun = d / float64(lr.runs)
	lr.maxLatMS = m["zk_max_latency"]
	lr.avgLatMS = m["zk_avg_latency"]
	return lr, nil
}
