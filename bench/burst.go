package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// The burst of issue 16: N wrappers started at once (a minute boundary),
// distinct locks, `sleep 1` jobs, on the dedicated server. Measured for
// this tree's binary and for the binary built from the -base revision in
// the same run, their rounds alternating in a shuffled order, so that both
// see the same box.

// burstRow is one binary's rounds.
type burstRow struct {
	name     string
	finish   sample // per round: from the start of all to the end of the last
	cpu      sample // per wrapper: user+system of it, its shim and its job
	failures int
	lastErr  string
}

// wrapperArgv is the command line of wrapper i of a burst for a job.
type wrapperArgv func(i int, job []string) []string

// cronguardArgv is a cronguard binary's burst line: a lock of its own.
func cronguardArgv(bin string) wrapperArgv {
	return func(i int, job []string) []string {
		return append([]string{bin, "run", "--group", "g", "--lock", fmt.Sprintf("j%d", i), "--"}, job...)
	}
}

// floorArgv is the floor's: the fleet config znode and a lock node of its
// own under the same prefix.
func floorArgv(bin, zkAddr, prefix string) wrapperArgv {
	return func(i int, job []string) []string {
		return append([]string{bin, zkAddr, prefix, fmt.Sprintf("%s/floor-j%d", prefix, i)}, job...)
	}
}

// burst runs rounds bursts of n wrappers per binary.
func burst(names []string, bins []wrapperArgv, env []string, n, rounds int, jobLen time.Duration, errFile *os.File) ([]*burstRow, error) {
	rows := make([]*burstRow, len(bins))
	for i := range bins {
		rows[i] = &burstRow{name: names[i]}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	order := make([]int, len(bins))
	for i := range order {
		order[i] = i
	}
	for round := range rounds {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, b := range order {
			row := rows[b]
			var wg sync.WaitGroup
			var mu sync.Mutex
			start := make(chan struct{})
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					argv := bins[b](i, []string{"/bin/sleep", fmt.Sprintf("%.3f", jobLen.Seconds())})
					<-start
					r := runOnce(argv, env, errFile)
					mu.Lock()
					defer mu.Unlock()
					if r.code != 0 {
						row.failures++
						row.lastErr = fmt.Sprintf("round %d wrapper %d: exit %d: %s", round, i, r.code, r.errText)
						return
					}
					row.cpu = append(row.cpu, r.usr+r.sys)
				}()
			}
			t0 := time.Now()
			close(start)
			wg.Wait()
			row.finish = append(row.finish, time.Since(t0))
			if row.failures > 0 {
				return rows, fmt.Errorf("burst %s: %d failed, last: %s", row.name, row.failures, row.lastErr)
			}
			time.Sleep(500 * time.Millisecond) // let the server close the sessions
		}
	}
	return rows, nil
}

// buildBase builds cronguard as it was at rev (git archive of the
// repository the harness runs in, into dir), with the flags `make build`
// uses, so that "today" and this tree are measured in the same run. The
// Go build cache makes a rebuild of the same revision quick.
func buildBase(goTool, rev, dir string) (string, error) {
	src := filepath.Join(dir, "base-src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", err
	}
	archive := exec.Command("git", "archive", "--format=tar", rev)
	untar := exec.Command("tar", "-x", "-C", src)
	pipe, err := archive.StdoutPipe()
	if err != nil {
		return "", err
	}
	untar.Stdin = pipe
	var aerr strings.Builder
	archive.Stderr = &aerr
	if err := untar.Start(); err != nil {
		return "", err
	}
	if err := archive.Run(); err != nil {
		_ = untar.Wait()
		return "", fmt.Errorf("git archive %s: %v: %s", rev, err, strings.TrimSpace(aerr.String()))
	}
	if err := untar.Wait(); err != nil {
		return "", fmt.Errorf("untar %s: %v", rev, err)
	}
	out := filepath.Join(dir, "cronguard-base")
	cmd := exec.Command(goTool, "build", "-trimpath", "-ldflags", "-s -w", "-o", out, "./cmd/cronguard")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building %s: %v: %s", rev, err, strings.TrimSpace(string(b)))
	}
	return out, nil
}

// buildFloor builds bench/floor from this tree.
func buildFloor(goTool, dir string) (string, error) {
	out := filepath.Join(dir, "floor")
	cmd := exec.Command(goTool, "build", "-trimpath", "-ldflags", "-s -w", "-o", out, "./bench/floor")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building bench/floor: %v: %s (run from the module root)", err, strings.TrimSpace(string(b)))
	}
	return out, nil
}
