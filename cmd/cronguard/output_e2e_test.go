package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestE2E_OutputFailureQuietOnSuccess: with --output failure a job that
// succeeds prints nothing (cron mails nothing); the same job under the
// default (always) passes its output through.
func TestE2E_OutputFailureQuietOnSuccess(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(fleetAB)
	job := e.script("job", "echo out1\necho err1 >&2\necho out2\n")
	p := e.run("hostA", "run", "-g", "g", "--output", "failure", "--", job)
	if p.code != 0 || p.stdout.String() != "" || p.stderr.String() != "" {
		t.Fatalf("--output failure, success: exit %d, stdout %q, stderr %q; want 0 and nothing", p.code, p.stdout.String(), p.stderr.String())
	}
	p = e.run("hostA", "run", "-g", "g", "--", job)
	if p.code != 0 || p.stdout.String() != "out1\nout2\n" || p.stderr.String() != "err1\n" {
		t.Fatalf("default output: exit %d, stdout %q, stderr %q", p.code, p.stdout.String(), p.stderr.String())
	}
	if p := e.run("hostA", "run", "-g", "g", "--output", "sometimes", "--", job); p.code != 125 ||
		!strings.Contains(p.stderr.String(), `--output "sometimes": want always or failure`) {
		t.Errorf("--output sometimes: exit %d, stderr %q", p.code, p.stderr.String())
	}
}

// TestE2E_OutputFailurePrintsOnFailure: a failing run (non-zero exit, a
// timeout, a command that cannot be found) writes out what the job wrote,
// stdout to stdout and stderr to stderr, each in order, with the run's
// exit code unchanged.
func TestE2E_OutputFailurePrintsOnFailure(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(fleetAB)
	job := e.script("job", "echo out1\necho err1 >&2\necho out2\necho err2 >&2\n(echo from-a-child)\nexit 3\n")
	p := e.run("hostA", "run", "-g", "g", "--output", "failure", "--", job)
	if p.code != 3 {
		t.Fatalf("exit %d, want 3; stderr %q", p.code, p.stderr.String())
	}
	if got := p.stdout.String(); got != "out1\nout2\nfrom-a-child\n" {
		t.Errorf("stdout %q", got)
	}
	if got := p.stderr.String(); got != "err1\nerr2\n" {
		t.Errorf("stderr %q", got)
	}

	slow := e.script("slow", "echo before-timeout\necho on-stderr >&2\nexec sleep 30\n")
	p = e.run("hostA", "run", "-g", "g", "--output", "failure", "--timeout", "300ms", "--", slow)
	if p.code != 124 || p.stdout.String() != "before-timeout\n" || !strings.Contains(p.stderr.String(), "on-stderr\n") {
		t.Errorf("timeout: exit %d, stdout %q, stderr %q; want 124 and the output", p.code, p.stdout.String(), p.stderr.String())
	}

	// A job stopped by cronguard that exits 0 on SIGTERM still failed.
	trap := e.script("trap", "trap 'echo stopped; exit 0' TERM\necho started\nsleep 30 & wait\n")
	p = e.run("hostA", "run", "-g", "g", "--output", "failure", "--timeout", "300ms", "--", trap)
	if p.stdout.String() != "started\nstopped\n" {
		t.Errorf("stopped job exiting 0: exit %d, stdout %q, stderr %q", p.code, p.stdout.String(), p.stderr.String())
	}
}

// tailWriter counts what it is given and keeps the last bytes.
type tailWriter struct {
	n    int64
	tail []byte
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	w.tail = append(w.tail, p...)
	if len(w.tail) > 4096 {
		w.tail = append([]byte(nil), w.tail[len(w.tail)-4096:]...)
	}
	return len(p), nil
}

// TestE2E_OutputFailureLargeOutput: a failing job that prints 200 MB (1 GB
// with CRONGUARD_OUTPUT_MB=1024) gets all of it written out, its last line
// included, while cronguard's peak RSS stays small: the job writes to an
// unlinked file, not through cronguard's memory.
func TestE2E_OutputFailureLargeOutput(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(fleetAB)
	mb := 200
	if v := os.Getenv("CRONGUARD_OUTPUT_MB"); v != "" {
		mb = atoi(t, v)
	}
	job := e.script("big", fmt.Sprintf("head -c %dM /dev/zero | tr '\\0' x\necho\necho the-last-line\necho err-last >&2\nexit 1\n", mb))
	logPath := e.newLogPath()
	cmd := exec.Command(binPath, "--zk", e.zkAddr, "--prefix", e.prefix, "--hostname", "hostA",
		"--log-level", "debug", "--log-file", logPath, "run", "-g", "g", "--output", "failure", "--", job)
	cmd.Env = append(withoutCronguardEnv(os.Environ()), "CRONGUARD_STATE_DIR="+filepath.Join(e.dir, "state"))
	var stdout, stderr tailWriter
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// cronguard's own high-water mark, sampled while it runs.
	var hwmKB int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if kb := vmHWM(cmd.Process.Pid); kb > hwmKB {
				hwmKB = kb
			}
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	err := cmd.Wait()
	close(stop)
	<-sampled
	took := time.Since(start)
	if code := exitCodeOf(err); code != 1 {
		t.Fatalf("exit %d, want 1; stderr tail %q", code, stderr.tail)
	}
	want := int64(mb)<<20 + int64(len("\nthe-last-line\n"))
	if stdout.n != want || !strings.HasSuffix(string(stdout.tail), "xxx\nthe-last-line\n") {
		t.Errorf("stdout: %d bytes ending %q; want %d ending with the last line", stdout.n, stdout.tail[max(0, len(stdout.tail)-40):], want)
	}
	if !strings.HasSuffix(string(stderr.tail), "err-last\n") {
		t.Errorf("stderr ends %q", stderr.tail)
	}
	// wait4's maxrss is the largest of cronguard and what it reaped (the
	// shim; head and tr were the shim's children).
	maxrss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
	t.Logf("%d MB of output: cronguard VmHWM %d KB (sampled), wait4 maxrss %d KB, %v", mb, hwmKB, maxrss, took)
	if hwmKB > 64<<10 || maxrss > 64<<10 {
		t.Errorf("peak RSS %d KB (sampled) / %d KB (wait4) for %d MB of output: not bounded", hwmKB, maxrss, mb)
	}
}

// vmHWM reads a process's peak resident set size (KB), 0 if it is gone.
func vmHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), " kB"), &kb)
			return kb
		}
	}
	return 0
}
