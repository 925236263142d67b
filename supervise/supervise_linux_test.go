//go:build linux

package supervise

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cronguard/cronguard/internal/shimtest"
)

// The test binary is its own shim (WithShim(testExe)), and a fake
// cronguard for the parent-death test (helperEnv). The C shim (cShim) is
// built from cshim/ by TestMain; every shim test runs against both.
const (
	helperEnv     = "SUPERVISE_TEST_HELPER"
	helperShimEnv = "SUPERVISE_TEST_SHIM" // the shim a helper uses
)

var testExe, cShim string

func TestMain(m *testing.M) {
	if IsShim(os.Args[1:]) {
		os.Exit(RunShim(os.Args[1:]))
	}
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode, os.Args[1:]))
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	testExe = exe
	dir, err := os.MkdirTemp("", "supervise-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	cShim = filepath.Join(dir, "cronguard-shim")
	if err := shimtest.Build(cShim); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	// As cronguard does: orphans of a dead shim come to us.
	if err := SetSubreaper(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// runHelper plays cronguard for TestParentDeath: it starts a job and
// writes the shim's pid to args[0], then waits to be SIGKILLed.
func runHelper(mode string, args []string) int {
	switch mode {
	case "alloc", "spin":
		return runLoadHelper(mode, args)
	}
	if err := SetSubreaper(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	exe := os.Getenv(helperShimEnv)
	if mode == "abort" {
		// A cronguard that skips (lock busy): Prepare, Abort, exit at once,
		// usually before the shim has even finished starting.
		p, err := Prepare(Spec{Path: "/bin/sh", Args: []string{"sh", "-c", args[1]}}, WithShim(exe))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		p.Abort()
		return 0
	}
	if mode == "prepared" {
		// A cronguard that dies while its shim waits for the go.
		p, err := Prepare(Spec{Path: "/bin/sh", Args: []string{"sh", "-c", args[1]}}, WithShim(exe))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		if err := os.WriteFile(args[0], []byte(strconv.Itoa(p.c.Pid())+"\n"), 0o644); err != nil {
			return 2
		}
		<-p.c.Done()
		return 3
	}
	c, err := Start(Spec{Path: "/bin/sh", Args: []string{"sh", "-c", args[1]}}, WithShim(exe))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := os.WriteFile(args[0], []byte(strconv.Itoa(c.Pid())), 0o644); err != nil {
		return 2
	}
	<-c.Done()
	return 3 // the job should never finish on its own
}

type mode struct {
	name string
	opts func() []Option
}

var modes = []mode{
	{"shim", func() []Option { return []Option{WithShim(testExe)} }},
	{"cshim", func() []Option { return []Option{WithShim(cShim)} }},
	{"direct", func() []Option { return []Option{WithoutShim()} }},
}

// shims are the two shim implementations: the Go one (the test binary,
// as cronguard re-exec'd) and the C one.
func shims() []struct{ name, exe string } {
	return []struct{ name, exe string }{{"shim", testExe}, {"cshim", cShim}}
}

// forShims runs f once per shim implementation.
func forShims(t *testing.T, f func(t *testing.T, shim string)) {
	for _, s := range shims() {
		t.Run(s.name, func(t *testing.T) { f(t, s.exe) })
	}
}

func start(t *testing.T, m mode, script string, mod ...func(*Spec)) *Child {
	t.Helper()
	spec := Spec{Path: "/bin/sh", Args: []string{"sh", "-c", script}}
	for _, f := range mod {
		f(&spec)
	}
	c, err := Start(spec, m.opts()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Stop(syscall.SIGKILL, time.Now())
		<-c.Done()
	})
	return c
}

func waitDone(t *testing.T, c *Child, within time.Duration) Result {
	t.Helper()
	select {
	case <-c.Done():
		return c.Result()
	case <-time.After(within):
		t.Fatalf("job not done within %v", within)
	}
	return Result{}
}

// gone reports whether pid no longer runs (a zombie counts as dead).
func gone(pid int) bool {
	if unix.Kill(pid, 0) == unix.ESRCH {
		return true
	}
	p, ok := readProc(pid, make([]byte, 1024))
	return !ok || p.state == 'Z'
}

// readPid waits for a job to write its pid into file.
func readPid(t *testing.T, file string) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(file)
		if s := strings.TrimSpace(string(b)); err == nil && strings.HasSuffix(string(b), "\n") && s != "" {
			pid, err := strconv.Atoi(s)
			if err != nil {
				t.Fatalf("%s: %q", file, b)
			}
			return pid
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no pid in %s", file)
	return 0
}

func forModes(t *testing.T, f func(t *testing.T, m mode)) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) { f(t, m) })
	}
}

func TestExitCodes(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		for _, code := range []int{0, 3, 255} {
			c := start(t, m, "exit "+strconv.Itoa(code))
			res := waitDone(t, c, 5*time.Second)
			if res.ExitCode != code || res.Signal != 0 {
				t.Errorf("exit %d: got %+v", code, res)
			}
		}
	})
}

func TestDeathBySignal(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGSEGV, syscall.SIGKILL} {
			c := start(t, m, "kill -"+strings.TrimPrefix(unix.SignalName(sig), "SIG")+" $$")
			res := waitDone(t, c, 5*time.Second)
			if res.Signal != sig || res.ExitCode != 128+int(sig) {
				t.Errorf("%v: got %+v, want signal %d and exit %d", sig, res, sig, 128+int(sig))
			}
		}
	})
}

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	noexec := filepath.Join(dir, "noexec")
	if err := os.WriteFile(noexec, []byte("#!/bin/sh\necho hi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cmd  string
		code int
	}{
		{"sh", 0},
		{"/bin/sh", 0},
		{"no-such-command-cronguard", 127},
		{filepath.Join(dir, "missing"), 127},
		{noexec, 126},
		{dir, 126},
		{"", 127},
	} {
		path, code, err := Resolve(tc.cmd)
		if code != tc.code || (code == 0) != (err == nil) || (code == 0 && path == "") {
			t.Errorf("Resolve(%q) = %q, %d, %v; want code %d", tc.cmd, path, code, err, tc.code)
		}
	}
}

// A command that vanished or lost its x bit between Resolve and Start
// ends like it would in a shell: 127 or 126 and one line on its stderr.
func TestExecFailure(t *testing.T) {
	dir := t.TempDir()
	noexec := filepath.Join(dir, "noexec")
	if err := os.WriteFile(noexec, []byte("#!/bin/sh\necho hi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	forModes(t, func(t *testing.T, m mode) {
		for _, tc := range []struct {
			path string
			code int
		}{{filepath.Join(dir, "missing"), 127}, {noexec, 126}, {dir, 126}} {
			errf, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
			if err != nil {
				t.Fatal(err)
			}
			c, err := Start(Spec{Path: tc.path, Stderr: errf}, m.opts()...)
			if err != nil {
				t.Fatal(err)
			}
			res := waitDone(t, c, 5*time.Second)
			errf.Close()
			msg, _ := os.ReadFile(errf.Name())
			if res.ExitCode != tc.code {
				t.Errorf("%s: exit %d, want %d", tc.path, res.ExitCode, tc.code)
			}
			if lines := strings.Split(strings.TrimSuffix(string(msg), "\n"), "\n"); len(lines) != 1 || !strings.Contains(lines[0], tc.path) {
				t.Errorf("%s: stderr %q, want one line naming it", tc.path, msg)
			}
		}
	})
}

func TestStopKillsGrandchild(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		f := filepath.Join(t.TempDir(), "pid")
		c := start(t, m, "sleep 100 & echo $! > "+f+"; wait")
		gc := readPid(t, f)
		t0 := time.Now()
		c.Stop(syscall.SIGTERM, time.Now().Add(5*time.Second))
		res := waitDone(t, c, 3*time.Second)
		if d := time.Since(t0); d > 2*time.Second {
			t.Errorf("SIGTERM took %v: should not have waited for the SIGKILL", d)
		}
		if !gone(gc) {
			t.Errorf("grandchild %d survived", gc)
		}
		if res.Signal != syscall.SIGTERM || res.ExitCode != 143 {
			t.Errorf("result %+v, want SIGTERM/143", res)
		}
		if !c.Stopping() {
			t.Error("Stopping() = false")
		}
	})
}

const ignoreTerm = `trap "" TERM; sleep 100 & echo $! > %s; wait; wait`

func TestKillAtDeadline(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		f := filepath.Join(t.TempDir(), "pid")
		c := start(t, m, fmt.Sprintf(ignoreTerm, f))
		gc := readPid(t, f)
		t0 := time.Now()
		c.Stop(syscall.SIGTERM, t0.Add(500*time.Millisecond))
		res := waitDone(t, c, 5*time.Second)
		d := time.Since(t0)
		if d < 450*time.Millisecond || d > 1500*time.Millisecond {
			t.Errorf("killed after %v, want about 500ms", d)
		}
		if res.Signal != syscall.SIGKILL || res.ExitCode != 137 {
			t.Errorf("result %+v, want SIGKILL/137", res)
		}
		if !gone(gc) {
			t.Errorf("grandchild %d survived", gc)
		}
	})
}

func TestKillByOnlyMovesEarlier(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		t.Run("earlier", func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "pid")
			c := start(t, m, fmt.Sprintf(ignoreTerm, f))
			readPid(t, f) // the trap is set
			t0 := time.Now()
			c.Stop(syscall.SIGTERM, t0.Add(30*time.Second))
			time.Sleep(100 * time.Millisecond)
			c.Stop(syscall.SIGTERM, t0.Add(400*time.Millisecond))
			waitDone(t, c, 5*time.Second)
			if d := time.Since(t0); d < 350*time.Millisecond || d > 1500*time.Millisecond {
				t.Errorf("killed after %v, want about 400ms", d)
			}
		})
		t.Run("later", func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "pid")
			c := start(t, m, fmt.Sprintf(ignoreTerm, f))
			readPid(t, f) // the trap is set
			t0 := time.Now()
			c.Stop(syscall.SIGTERM, t0.Add(400*time.Millisecond))
			c.Stop(syscall.SIGTERM, t0.Add(30*time.Second))
			c.Stop(syscall.SIGINT, t0.Add(time.Hour))
			waitDone(t, c, 5*time.Second)
			if d := time.Since(t0); d > 1500*time.Millisecond {
				t.Errorf("killed after %v: a later Stop extended the grace", d)
			}
		})
		t.Run("now", func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "pid")
			c := start(t, m, fmt.Sprintf(ignoreTerm, f))
			readPid(t, f) // the trap is set
			t0 := time.Now()
			c.Stop(syscall.SIGTERM, t0.Add(30*time.Second))
			time.Sleep(50 * time.Millisecond)
			c.Stop(syscall.SIGTERM, t0) // a deadline already past: kill now
			waitDone(t, c, 5*time.Second)
			if d := time.Since(t0); d > time.Second {
				t.Errorf("killed after %v, want at once", d)
			}
		})
		t.Run("sigkill", func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "pid")
			c := start(t, m, fmt.Sprintf(ignoreTerm, f))
			readPid(t, f) // the trap is set
			t0 := time.Now()
			c.Stop(syscall.SIGKILL, t0.Add(time.Hour))
			res := waitDone(t, c, 5*time.Second)
			if d := time.Since(t0); d > time.Second {
				t.Errorf("killed after %v, want at once", d)
			}
			if res.Signal != syscall.SIGKILL {
				t.Errorf("result %+v, want SIGKILL", res)
			}
		})
	})
}

// escapee starts `setsid sh -c 'echo $$ > FILE; exec sleep 100'` in the
// background: a descendant in a session and group of its own.
func escapee(file string) string {
	return `setsid sh -c 'echo $$ > ` + file + `; exec sleep 100' & `
}

func TestSetsidDescendantKilled(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		t.Run("stop", func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "pid")
			c := start(t, m, escapee(f)+"wait")
			esc := readPid(t, f)
			if p, ok := readProc(esc, make([]byte, 1024)); !ok || p.pgid == c.Pid() {
				t.Fatalf("escapee %d: %+v, want it out of group %d", esc, p, c.Pid())
			}
			c.Stop(syscall.SIGTERM, time.Now().Add(5*time.Second))
			waitDone(t, c, 3*time.Second)
			if !gone(esc) {
				t.Errorf("setsid descendant %d survived", esc)
			}
		})
		t.Run("leftover", func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "pid")
			c := start(t, m, escapee(f)+"while [ ! -s "+f+" ]; do sleep 0.01; done; exit 4")
			res := waitDone(t, c, 5*time.Second)
			esc := readPid(t, f)
			if !gone(esc) {
				t.Errorf("setsid leftover %d survived Done", esc)
			}
			if res.ExitCode != 4 {
				t.Errorf("result %+v, want the command's exit 4", res)
			}
		})
	})
}

func TestLeftoversKilledBeforeDone(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		t.Run("term", func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "pid")
			c := start(t, m, "sleep 100 & echo $! > "+f)
			res := waitDone(t, c, 5*time.Second)
			if pid := readPid(t, f); !gone(pid) {
				t.Errorf("leftover %d still runs after Done", pid)
			}
			if res.ExitCode != 0 {
				t.Errorf("result %+v, want exit 0", res)
			}
		})
		t.Run("kill", func(t *testing.T) {
			// Ignores SIGTERM: SIGKILLed after LeftoverGrace.
			f := filepath.Join(t.TempDir(), "pid")
			t0 := time.Now()
			c := start(t, m, `trap "" TERM; sleep 100 & echo $! > `+f,
				func(s *Spec) { s.LeftoverGrace = 300 * time.Millisecond })
			res := waitDone(t, c, 5*time.Second)
			d := time.Since(t0)
			if pid := readPid(t, f); !gone(pid) {
				t.Errorf("leftover %d still runs after Done", pid)
			}
			if d < 300*time.Millisecond || d > 2*time.Second {
				t.Errorf("done after %v, want about 300ms", d)
			}
			if res.ExitCode != 0 {
				t.Errorf("result %+v, want exit 0", res)
			}
		})
	})
}

func TestParentDeath(t *testing.T) {
	// WithoutShim leaves grandchildren: that is the gap the shim closes.
	for _, sh := range shims() {
		t.Run(sh.name, func(t *testing.T) {
			dir := t.TempDir()
			pidFile := filepath.Join(dir, "shim")
			escFile := filepath.Join(dir, "esc")
			script := escapee(escFile) + "sleep 100 & sleep 100"
			helper := exec.Command(testExe, pidFile, script)
			helper.Env = append(os.Environ(), helperEnv+"=start", helperShimEnv+"="+sh.exe)
			helper.Stderr = os.Stderr
			if err := helper.Start(); err != nil {
				t.Fatal(err)
			}
			defer helper.Process.Kill()
			readPid(t, escFile)
			// The whole tree: the shim, sh, the escapee, two sleeps.
			var pids []int
			deadline := time.Now().Add(5 * time.Second)
			for {
				pids = pids[:0]
				for _, p := range treeOf(allProcs(), 0, []int{helper.Process.Pid}, 0) {
					pids = append(pids, p.pid)
				}
				if len(pids) >= 5 || time.Now().After(deadline) {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			if len(pids) < 5 {
				t.Fatalf("job tree %v, want 5 processes", pids)
			}
			if err := helper.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = helper.Wait()
			t0 := time.Now()
			for time.Since(t0) < time.Second {
				left := 0
				for _, pid := range pids {
					if !gone(pid) {
						left++
					}
				}
				if left == 0 {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			for _, pid := range pids {
				if !gone(pid) {
					t.Errorf("pid %d of the job survived its cronguard by %v", pid, time.Since(t0))
					_ = unix.Kill(pid, syscall.SIGKILL)
				}
			}
			t.Logf("job tree %v gone %v after the parent's SIGKILL", pids, time.Since(t0))
			// The shim was reparented to us (a subreaper): reap it.
			for _, pid := range pids {
				var ws unix.WaitStatus
				_, _ = unix.Wait4(pid, &ws, unix.WNOHANG, nil)
			}
		})
	}
}

// If the shim itself is SIGKILLed, the parent finds and kills what is left
// of the job (the group, and the escapee reparented to us) before Done.
func TestShimKilled(t *testing.T) {
	forShims(t, func(t *testing.T, shim string) {
		dir := t.TempDir()
		esc, sh := filepath.Join(dir, "esc"), filepath.Join(dir, "sh")
		c := start(t, mode{"", func() []Option { return []Option{WithShim(shim)} }}, escapee(esc)+"echo $$ > "+sh+"; sleep 100 & wait")
		escPid, shPid := readPid(t, esc), readPid(t, sh)
		if err := unix.Kill(c.Pid(), syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		res := waitDone(t, c, 3*time.Second)
		for _, pid := range []int{escPid, shPid} {
			if !gone(pid) {
				t.Errorf("pid %d survived the shim", pid)
			}
		}
		if res.Signal != syscall.SIGKILL {
			t.Errorf("result %+v, want SIGKILL", res)
		}
	})
}

func TestStdioPassthrough(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		dir := t.TempDir()
		out, err := os.Create(filepath.Join(dir, "out"))
		if err != nil {
			t.Fatal(err)
		}
		defer out.Close()
		errf, err := os.Create(filepath.Join(dir, "err"))
		if err != nil {
			t.Fatal(err)
		}
		defer errf.Close()
		// The job's fd 1 is the very file we passed, not a pipe.
		c := start(t, m, `echo hello; readlink /proc/$$/fd/1; echo oops >&2; echo "$CRONGUARD_TEST_VAR"; pwd`,
			func(s *Spec) {
				s.Stdout, s.Stderr = out, errf
				s.Env = append(os.Environ(), "CRONGUARD_TEST_VAR=passed")
				s.Dir = dir
			})
		if res := waitDone(t, c, 5*time.Second); res.ExitCode != 0 {
			t.Fatalf("result %+v", res)
		}
		got, _ := os.ReadFile(out.Name())
		want := "hello\n" + out.Name() + "\npassed\n" + dir + "\n"
		if string(got) != want {
			t.Errorf("stdout %q, want %q", got, want)
		}
		if got, _ := os.ReadFile(errf.Name()); string(got) != "oops\n" {
			t.Errorf("stderr %q", got)
		}
	})
}

// Signals to the job's group reach the command; the shim, which is in the
// group too, survives them and reports the command's status.
func TestSignal(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		for _, sig := range []syscall.Signal{syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGHUP, syscall.SIGINT,
			syscall.SIGQUIT, syscall.SIGTERM, syscall.SIGALRM, syscall.SIGPIPE} {
			name := strings.TrimPrefix(unix.SignalName(sig), "SIG")
			f := filepath.Join(t.TempDir(), "ready")
			// The sleep dies of the signal too; sh reports that on stderr.
			c := start(t, m, `trap "exit 7" `+name+`; echo $$ > `+f+`; while :; do sleep 0.01; done 2>/dev/null`)
			readPid(t, f)
			if err := c.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if res := waitDone(t, c, 5*time.Second); res.ExitCode != 7 {
				t.Errorf("%v: result %+v, want 7 (the shim must survive it)", sig, res)
			}
			if err := c.Signal(sig); err != os.ErrProcessDone {
				t.Errorf("Signal after Done: %v", err)
			}
			if c.Stopping() {
				t.Error("Stopping() without Stop")
			}
		}
	})
}

// The parent-death signal is tied to the thread that forked. Start must
// fork from a thread that lives as long as the child: here the caller's
// thread dies right after Start, and the job must live on.
func TestCallerThreadExit(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		ch := make(chan *Child, 1)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
			c, err := Start(Spec{Path: "/bin/sh", Args: []string{"sh", "-c", "sleep 0.3"}}, m.opts()...)
			if err != nil {
				t.Error(err)
			}
			ch <- c
		}()
		c := <-ch
		if c == nil {
			return
		}
		if res := waitDone(t, c, 5*time.Second); res.ExitCode != 0 {
			t.Errorf("result %+v: the job died with the thread that called Start", res)
		}
	})
}

func TestUsage(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		c := start(t, m, `i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done`)
		res := waitDone(t, c, 20*time.Second)
		if res.ExitCode != 0 || res.UserCPU+res.SysCPU < 10*time.Millisecond || res.MaxRSSKB <= 0 || res.Duration <= 0 {
			t.Errorf("result %+v, want CPU time, max RSS and duration", res)
		}
		if c.Started().IsZero() || time.Since(c.Started()) < res.Duration {
			t.Errorf("Started %v, duration %v", c.Started(), res.Duration)
		}
	})
}

func TestParseShimArgs(t *testing.T) {
	cfg, err := parseShimArgs([]string{ShimArg, "--ppid", "12", "--grace", "1.5s", "--status-fd", "3", "--", "/bin/x", "x", "-a", "--"})
	if err != nil || cfg.ppid != 12 || cfg.grace != 1500*time.Millisecond || cfg.statusFd != 3 ||
		cfg.path != "/bin/x" || strings.Join(cfg.argv, " ") != "x -a --" {
		t.Errorf("%+v, %v", cfg, err)
	}
	for _, bad := range [][]string{{ShimArg}, {ShimArg, "--ppid"}, {ShimArg, "--bogus", "1", "--", "x"}, {ShimArg, "--grace", "x", "--", "y"}} {
		if _, err := parseShimArgs(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if !IsShim([]string{ShimArg}) || IsShim(nil) || IsShim([]string{"run"}) {
		t.Error("IsShim")
	}
}

func TestParseStat(t *testing.T) {
	line := "4242 (a) b (c) S 1 4240 4240 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 123 4 18446744073709551615\n"
	p, ok := parseStat(4242, []byte(line))
	if !ok || p.ppid != 1 || p.pgid != 4240 || p.state != 'S' || p.start != 987654 {
		t.Errorf("%+v %v", p, ok)
	}
}

// BenchmarkRun measures a whole run of `true`: start, wait, cleanup check.
// The difference between shim and direct is what the shim costs per run
// (here the shim is the test binary; see the package's shimbench tool for
// a minimal binary).
func BenchmarkRun(b *testing.B) {
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				c, err := Start(Spec{Path: "/usr/bin/true"}, m.opts()...)
				if err != nil {
					b.Fatal(err)
				}
				<-c.Done()
				if c.Result().ExitCode != 0 {
					b.Fatal(c.Result())
				}
			}
		})
	}
}

func BenchmarkProcWalk(b *testing.B) {
	for i := 0; i < b.N; i++ {
		allProcs()
	}
}

// TestPrepareGo: a prepared shim runs the command only at Go, with the
// environment given then.
func TestPrepareGo(t *testing.T) {
	for _, mode := range []struct {
		name string
		opts []Option
	}{{"shim", []Option{WithShim(testExe)}}, {"cshim", []Option{WithShim(cShim)}}, {"direct", []Option{WithoutShim()}}} {
		t.Run(mode.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out")
			p, err := Prepare(Spec{Path: "/bin/sh", Args: []string{"sh", "-c", `echo "$EARLY $LATE" > ` + out},
				Env: append(os.Environ(), "EARLY=early")}, mode.opts...)
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond)
			if _, err := os.Stat(out); err == nil {
				t.Fatal("the command ran before Go")
			}
			c, err := p.Go([]string{"LATE=late"})
			if err != nil {
				t.Fatal(err)
			}
			select {
			case <-c.Done():
			case <-time.After(5 * time.Second):
				t.Fatal("not done")
			}
			if r := c.Result(); r.ExitCode != 0 || r.Duration > 2*time.Second {
				t.Errorf("result %+v", r)
			}
			if b, _ := os.ReadFile(out); string(b) != "early late\n" {
				t.Errorf("command saw %q", b)
			}
		})
	}
}

// TestPrepareParentDeath: when cronguard dies while its prepared shim waits
// for the go, the shim exits and the command never runs; unlike an abort,
// the shim says so on stderr (a SIGKILLed cronguard could not).
func TestPrepareParentDeath(t *testing.T) {
	forShims(t, func(t *testing.T, shim string) {
		dir := t.TempDir()
		pidFile, out := filepath.Join(dir, "shim"), filepath.Join(dir, "ran")
		helper := exec.Command(testExe, pidFile, "echo ran > "+out)
		helper.Env = append(os.Environ(), helperEnv+"=prepared", helperShimEnv+"="+shim)
		var stderr syncBuffer
		helper.Stderr = &stderr
		helper.WaitDelay = 5 * time.Second // the shim holds the pipe too
		if err := helper.Start(); err != nil {
			t.Fatal(err)
		}
		defer helper.Process.Kill()
		shimPid := readPid(t, pidFile)
		// Killed before its handlers are in place, the shim dies of its
		// parent-death signal outright, silently (the job does not run
		// either way): wait for them.
		for deadline := time.Now().Add(5 * time.Second); !shimReady(shimPid, shim); {
			if time.Now().After(deadline) {
				t.Fatal("the shim did not get ready")
			}
			time.Sleep(time.Millisecond)
		}
		if err := helper.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = helper.Wait()
		t0 := time.Now()
		for !gone(shimPid) {
			if time.Since(t0) > 2*time.Second {
				_ = unix.Kill(shimPid, syscall.SIGKILL)
				t.Fatalf("the prepared shim outlived its cronguard by %v", time.Since(t0))
			}
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond)
		if _, err := os.Stat(out); err == nil {
			t.Fatal("the job ran although its cronguard died before the go")
		}
		if got, want := stderr.String(), "cronguard shim: cronguard exited before the job started\n"; got != want {
			t.Errorf("stderr %q, want %q", got, want)
		}
	})
}

// shimReady reports whether the shim pid has its parent-death signal in
// hand: the Go shim names itself once its handlers are in place, the C shim
// blocks every signal first thing (its name is its file's from the exec).
func shimReady(pid int, shim string) bool {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if strings.TrimSpace(string(b)) != "cronguard-shim" {
		return false
	}
	if shim == testExe {
		return true
	}
	st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(st), "\n") {
		if v, ok := strings.CutPrefix(line, "SigBlk:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && mask&(1<<(uint(shimParentDeathSignal)-1)) != 0
		}
	}
	return false
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestPrepareAbort: an aborted shim exits without running the command.
func TestPrepareAbort(t *testing.T) {
	forShims(t, func(t *testing.T, shim string) {
		dir := t.TempDir()
		out := filepath.Join(dir, "out")
		p, err := Prepare(Spec{Path: "/bin/sh", Args: []string{"sh", "-c", "echo ran > " + out}}, WithShim(shim))
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		p.Abort()
		defer func() { t.Logf("aborted shim gone after %v", time.Since(t0)) }()
		select {
		case <-p.c.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("the aborted shim did not exit")
		}
		if r := p.c.Result(); r.ExitCode != 0 {
			t.Errorf("aborted shim: %+v", r)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatal("an aborted job ran")
		}
		if _, err := p.Go(nil); err == nil {
			t.Fatal("Go after Abort succeeded")
		}
	})
}

// TestPrepareAbortSilent: a skip is silent. A cronguard that aborts its
// prepared shim and exits at once (the lock-busy skip) must leave nothing on
// the shared stderr, which cron would mail: the shim, which usually notices
// its parent is gone, must tell the abort from a crash. Many short-lived
// fake cronguards, several at a time, so that the shim's start-up overlaps
// its parent's exit in every possible way.
func TestPrepareAbortSilent(t *testing.T) {
	forShims(t, func(t *testing.T, shim string) {
		const runs, parallel = 200, 8
		dir := t.TempDir()
		out := filepath.Join(dir, "ran")
		sem := make(chan struct{}, parallel)
		var mu sync.Mutex
		var noisy []string
		var wg sync.WaitGroup
		t0 := time.Now()
		for i := 0; i < runs; i++ {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				helper := exec.Command(testExe, "-", "echo ran >> "+out)
				helper.Env = append(os.Environ(), helperEnv+"=abort", helperShimEnv+"="+shim)
				// A pipe: Wait returns only once every holder of the write
				// end, the shim too, has exited.
				var stderr bytes.Buffer
				helper.Stderr = &stderr
				err := helper.Run()
				mu.Lock()
				defer mu.Unlock()
				if err != nil || stderr.Len() > 0 {
					noisy = append(noisy, fmt.Sprintf("%v: %q", err, stderr.String()))
				}
			}()
		}
		wg.Wait()
		t.Logf("%d aborted runs in %v", runs, time.Since(t0))
		if len(noisy) > 0 {
			t.Errorf("%d of %d aborted runs wrote to stderr or failed, e.g. %s", len(noisy), runs, noisy[0])
		}
		if _, err := os.Stat(out); err == nil {
			t.Error("an aborted job ran")
		}
	})
}

// BenchmarkAbort measures what Abort adds to a skip: the call alone (the
// shim's start-up and exit, off cronguard's path, are not timed).
func BenchmarkAbort(b *testing.B) {
	spec := Spec{Path: "/bin/true", Args: []string{"true"}}
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		p, err := Prepare(spec, WithShim(testExe))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		p.Abort()
		b.StopTimer()
		<-p.c.Done()
		b.StartTimer()
	}
}

// TestShimClosedStderr: the shim's own message (here: command not found)
// to a closed stderr (cron's pipe gone) is a failed write, not death by
// SIGPIPE, so the run still ends with the shell's code, 127, not 141.
func TestShimClosedStderr(t *testing.T) {
	forShims(t, func(t *testing.T, shim string) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
		defer w.Close()
		c, err := Start(Spec{Path: filepath.Join(t.TempDir(), "missing"), Stderr: w}, WithShim(shim))
		if err != nil {
			t.Fatal(err)
		}
		if res := waitDone(t, c, 5*time.Second); res.ExitCode != ExitNotFound {
			t.Errorf("result %+v, want exit %d", res, ExitNotFound)
		}
	})
}

// TestCShimIgnoredSIGCHLD: started with SIGCHLD ignored (inherited across
// exec; bash passes it on, dash does not), the C shim still reaps the job
// itself and passes its status on. (Without its reset, the kernel reaped
// the job unseen and sent no SIGCHLD: the shim waited forever.)
func TestCShimIgnoredSIGCHLD(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/bash", "-c", `trap "" CHLD; exec "$0" `+ShimArg+` -- /bin/sh sh -c "sleep 0.1; exit 7"`, cShim)
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatal("the shim did not exit within 10 s")
	}
	if code := cmd.ProcessState.ExitCode(); code != 7 {
		t.Fatalf("exit %d (%v), want the job's 7", code, err)
	}
}
