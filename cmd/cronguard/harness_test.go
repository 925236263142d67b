package main

// The end-to-end tier: these tests build the real binary and run it against
// a real ZooKeeper, with real process trees and real signals.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/cronguard/cronguard/internal/shimtest"
	"github.com/cronguard/cronguard/internal/zktest"
)

var (
	binPath  string
	buildErr error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cronguard-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "cronguard")
	build := exec.Command("go", "build", "-o", binPath, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0") // as make build ships it
	out, err := build.CombinedOutput()
	if err != nil {
		buildErr = fmt.Errorf("go build: %v\n%s", err, out)
	}
	// cronguard-ping next to it, where cronguard looks for it first.
	ping := exec.Command("go", "build", "-o", filepath.Join(dir, "cronguard-ping"), "../cronguard-ping")
	ping.Env = build.Env
	if out, err := ping.CombinedOutput(); err != nil && buildErr == nil {
		buildErr = fmt.Errorf("go build cronguard-ping: %v\n%s", err, out)
	}
	// The C shim next to it too, as make build and the .deb put it: the
	// runs here use it (TestE2E_GoShimFallback runs without it).
	if err := shimtest.Build(filepath.Join(dir, "cronguard-shim")); err != nil && buildErr == nil {
		buildErr = err
	}
	code := m.Run()
	if sharedZK != nil {
		sharedZK.Close()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is one test's world: a ZooKeeper, a unique prefix, a scratch dir.
type env struct {
	t      *testing.T
	zkAddr string
	prefix string
	dir    string
	conn   *zk.Conn
	// extraEnv is added to every cronguard process's environment.
	extraEnv []string
	// bin, when set, is the cronguard binary to run instead of binPath.
	bin string
}

var (
	sharedOnce sync.Once
	sharedZK   *zktest.Server
	sharedErr  error
	prefixSeq  atomic.Int64
)

// newEnv gives a test its own prefix on a ZooKeeper shared by the package
// (starting one JVM per test would dominate the run time).
func newEnv(t *testing.T) *env {
	t.Helper()
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	if err := zktest.Available(); err != nil {
		if os.Getenv("CRONGUARD_REQUIRE_ZK") == "1" {
			t.Fatalf("ZooKeeper required: %v", err)
		}
		t.Skipf("ZooKeeper not available: %v", err)
	}
	sharedOnce.Do(func() {
		sharedZK, sharedErr = zktest.Start(context.Background())
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return newEnvAt(t, sharedZK.Addr())
}

func newEnvAt(t *testing.T, addr string) *env {
	t.Helper()
	e := &env{t: t, zkAddr: addr, dir: t.TempDir()}
	e.prefix = fmt.Sprintf("/cg%d_%s", prefixSeq.Add(1), sanitize(t.Name()))
	conn, _, err := zk.Connect(strings.Split(addr, ","), 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	e.conn = conn
	return e
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, s)
}

// writeFleet creates or replaces the fleet config at the prefix.
func (e *env) writeFleet(fleet string) {
	e.t.Helper()
	_, err := e.conn.Create(e.prefix, []byte(fleet), 0, zk.WorldACL(zk.PermAll))
	if errors.Is(err, zk.ErrNodeExists) {
		_, err = e.conn.Set(e.prefix, []byte(fleet), -1)
	}
	if err != nil {
		e.t.Fatalf("write fleet: %v", err)
	}
}

// setFleet replaces the fleet config and returns when ZooKeeper acknowledged.
func (e *env) setFleet(fleet string) time.Time {
	e.t.Helper()
	if _, err := e.conn.Set(e.prefix, []byte(fleet), -1); err != nil {
		e.t.Fatalf("set fleet: %v", err)
	}
	return time.Now()
}

func (e *env) lockPath(name string) string { return e.prefix + "/locks/" + name }

// exists reports whether a znode exists.
func (e *env) exists(p string) bool {
	e.t.Helper()
	ok, _, err := e.conn.Exists(p)
	if err != nil {
		e.t.Fatalf("exists %s: %v", p, err)
	}
	return ok
}

// proc is one cronguard process.
type proc struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	stderr syncBuffer
	done   chan struct{}
	code   int
	log    string
}

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

// start runs `cronguard GLOBAL... ARGS...` with this env's ZooKeeper and
// prefix, the given hostname, logging JSON at debug to a file.
func (e *env) start(host string, args ...string) *proc {
	e.t.Helper()
	logPath := e.newLogPath()
	return e.startArgs(logPath, append([]string{"--zk", e.zkAddr, "--prefix", e.prefix, "--hostname", host,
		"--log-level", "debug", "--log-file", logPath}, args...)...)
}

func (e *env) newLogPath() string {
	return filepath.Join(e.dir, fmt.Sprintf("log-%d.json", prefixSeq.Add(1)))
}

// startArgs runs cronguard with exactly args; logPath is where it logs.
func (e *env) startArgs(logPath string, args ...string) *proc {
	e.t.Helper()
	p := &proc{done: make(chan struct{}), log: logPath}
	bin := binPath
	if e.bin != "" {
		bin = e.bin
	}
	p.cmd = exec.Command(bin, args...)
	// Every run keeps its local state (state_dir) in the test's own dir.
	p.cmd.Env = append(withoutCronguardEnv(os.Environ()), "CRONGUARD_STATE_DIR="+filepath.Join(e.dir, "state"))
	p.cmd.Env = append(p.cmd.Env, e.extraEnv...)
	p.cmd.Stdout = &p.stdout
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() {
		err := p.cmd.Wait()
		p.code = exitCodeOf(err)
		close(p.done)
	}()
	e.t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// filterEnv drops inherited CRONGUARD_* settings so the host's own config
// cannot leak into a test.
func withoutCronguardEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		if strings.HasPrefix(kv, "CRONGUARD_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

func exitCodeOf(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	return -1
}

// run is start + wait with a bound.
func (e *env) run(host string, args ...string) *proc {
	e.t.Helper()
	p := e.start(host, args...)
	p.wait(e.t, 60*time.Second)
	return p
}

func (p *proc) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(d):
		p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("cronguard did not exit within %v; stderr:\n%s\nlog:\n%s", d, p.stderr.String(), p.logText())
		return -1
	}
}

func (p *proc) logText() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// events returns the log lines whose "event" field is ev.
func (p *proc) events(ev string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(p.logText()))
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["event"] == ev {
			out = append(out, m)
		}
	}
	return out
}

func (p *proc) mustEvent(t *testing.T, ev string) map[string]any {
	t.Helper()
	evs := p.events(ev)
	if len(evs) == 0 {
		t.Fatalf("no %q event in log:\n%s\nstderr:\n%s", ev, p.logText(), p.stderr.String())
	}
	return evs[0]
}

// waitFile waits until path exists and is non-empty, returning its content.
func waitFile(t *testing.T, path string, d time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return string(b)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s did not appear within %v", path, d)
	return ""
}

// pidAlive reports whether pid exists and is not a zombie.
func pidAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func waitGone(t *testing.T, pid int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if !pidAlive(pid) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("pid %d still alive after %v", pid, d)
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return n
}

// script writes an executable shell script into the env's dir.
func (e *env) script(name, body string) string {
	e.t.Helper()
	p := filepath.Join(e.dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		e.t.Fatal(err)
	}
	return p
}
