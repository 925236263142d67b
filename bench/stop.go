package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-zookeeper/zk"
)

// sigrecArg makes the bench binary act as the job of the stop-latency
// runs: it prints "R <unix ns> <ppid>" once its SIGTERM handler is in
// place, and on SIGTERM prints "T <unix ns>" and dies of SIGTERM, so the
// run ends as a stopped job does (exit 143).
const sigrecArg = "__bench_sigrec"

func sigrecMain() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM)
	fmt.Fprintf(os.Stdout, "R %d %d\n", time.Now().UnixNano(), os.Getppid())
	<-c
	t := time.Now().UnixNano()
	fmt.Fprintf(os.Stdout, "T %d\n", t)
	signal.Reset(syscall.SIGTERM)
	_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
	time.Sleep(time.Second)
	os.Exit(1)
}

// sigrecRun is one running sigrec job (directly or under cronguard).
type sigrecRun struct {
	cmd   *exec.Cmd
	lines chan string
	ready time.Time // R: the job's own start-up done, handler in place
	ppid  int
}

func startSigrec(argv, env []string, errFile *os.File) (*sigrecRun, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = devNull
	cmd.Stderr = errFile
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r := &sigrecRun{cmd: cmd, lines: make(chan string, 4)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			r.lines <- sc.Text()
		}
		close(r.lines)
		_, _ = io.Copy(io.Discard, out)
	}()
	line, err := r.next('R', 10*time.Second)
	if err != nil {
		r.abort()
		return nil, err
	}
	f := strings.Fields(line)
	if len(f) != 3 {
		r.abort()
		return nil, fmt.Errorf("sigrec: bad line %q", line)
	}
	ns, _ := strconv.ParseInt(f[1], 10, 64)
	r.ready = time.Unix(0, ns)
	r.ppid, _ = strconv.Atoi(f[2])
	return r, nil
}

// next returns the next line that starts with kind.
func (r *sigrecRun) next(kind byte, timeout time.Duration) (string, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case l, ok := <-r.lines:
			if !ok {
				return "", fmt.Errorf("sigrec: output ended before the %c line", kind)
			}
			if len(l) > 0 && l[0] == kind {
				return l, nil
			}
		case <-t.C:
			return "", fmt.Errorf("sigrec: no %c line within %v", kind, timeout)
		}
	}
}

// termTime waits for the T line.
func (r *sigrecRun) termTime(timeout time.Duration) (time.Time, error) {
	line, err := r.next('T', timeout)
	if err != nil {
		return time.Time{}, err
	}
	ns, err := strconv.ParseInt(strings.TrimPrefix(line, "T "), 10, 64)
	return time.Unix(0, ns), err
}

// wait reaps the process and returns its shell-style exit code.
func (r *sigrecRun) wait() int {
	err := r.cmd.Wait()
	if err == nil {
		return 0
	}
	if ws, ok := r.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return r.cmd.ProcessState.ExitCode()
}

func (r *sigrecRun) abort() {
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
}

// calibrateSigrec measures the helper's own share of every stop latency:
// from kill(2) by the harness to the helper's timestamp.
func calibrateSigrec(self string, n int) (sample, error) {
	var s sample
	for range n {
		r, err := startSigrec([]string{self, sigrecArg}, nil, nil)
		if err != nil {
			return nil, err
		}
		t0 := time.Now()
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		t1, err := r.termTime(5 * time.Second)
		if err != nil {
			r.abort()
			return nil, err
		}
		r.wait()
		s = append(s, t1.Sub(t0))
	}
	return s, nil
}

// flipLatency measures, n times, the time from the acknowledged config
// write that removes this host from the group to SIGTERM in the job:
// cronguard runs the job as host h1, the harness sets the prefix's data to
// a fleet config without h1 (as `cronguard unassign g h1` writes it), and
// the job records when SIGTERM arrives. The run must end with 143.
func flipLatency(conn *zk.Conn, prefix string, cronguard, self string, env []string, n int, errFile *os.File) (fromAck, fromSend sample, err error) {
	argv := []string{cronguard, "run", "--group", "g", "--kill-grace", "5s", "--", self, sigrecArg}
	for i := range n {
		if _, err := conn.Set(prefix, fleetJSON("h1"), -1); err != nil {
			return nil, nil, err
		}
		r, err := startSigrec(argv, env, errFile)
		if err != nil {
			return nil, nil, fmt.Errorf("flip %d: %w", i, err)
		}
		sent := time.Now()
		if _, err := conn.Set(prefix, fleetJSON("h2"), -1); err != nil {
			r.abort()
			return nil, nil, err
		}
		acked := time.Now()
		term, err := r.termTime(10 * time.Second)
		if err != nil {
			r.abort()
			return nil, nil, fmt.Errorf("flip %d: %w", i, err)
		}
		if code := r.wait(); code != 128+int(syscall.SIGTERM) {
			return nil, nil, fmt.Errorf("flip %d: cronguard exited %d, want 143", i, code)
		}
		fromAck = append(fromAck, term.Sub(acked))
		fromSend = append(fromSend, term.Sub(sent))
	}
	_, err = conn.Set(prefix, fleetJSON("h1"), -1)
	return fromAck, fromSend, err
}

// timeoutLatency measures, n times, the time from --timeout expiry to
// SIGTERM in the job. cronguard arms the timer just after it logs the
// "start" event, whose timestamp has millisecond resolution (truncated, so
// it is up to 1 ms early): the figure, SIGTERM - start event - timeout, is
// an upper bound of the latency, by at most 1 ms. (The job's own start is
// no lower bound: it comes after the shim's start-up, later than the timer.)
func timeoutLatency(cronguard, self string, env []string, logFile string, timeout time.Duration, n int, errFile *os.File) (upper sample, err error) {
	argv := []string{cronguard, "run", "--group", "g", "--timeout", timeout.String(), "--kill-grace", "5s", "--", self, sigrecArg}
	env = append(env[:len(env):len(env)], "CRONGUARD_LOG_FILE="+logFile)
	for i := range n {
		if err := os.WriteFile(logFile, nil, 0o644); err != nil {
			return nil, err
		}
		r, err := startSigrec(argv, env, errFile)
		if err != nil {
			return nil, fmt.Errorf("timeout run %d: %w", i, err)
		}
		term, err := r.termTime(timeout + 10*time.Second)
		if err != nil {
			r.abort()
			return nil, fmt.Errorf("timeout run %d: %w", i, err)
		}
		if code := r.wait(); code != 124 {
			return nil, fmt.Errorf("timeout run %d: cronguard exited %d, want 124", i, code)
		}
		start, err := logEventTime(logFile, "start")
		if err != nil {
			return nil, fmt.Errorf("timeout run %d: %w", i, err)
		}
		upper = append(upper, term.Sub(start)-timeout)
	}
	return upper, nil
}

// logEventTime returns the time of the first log event named event.
func logEventTime(path, event string) (time.Time, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return time.Time{}, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		var ev struct {
			Event string `json:"event"`
			Time  string `json:"time"`
		}
		if json.Unmarshal([]byte(line), &ev) != nil || ev.Event != event {
			continue
		}
		return time.Parse("2006-01-02T15:04:05.000Z07:00", ev.Time)
	}
	return time.Time{}, fmt.Errorf("no %q event in %s", event, path)
}
