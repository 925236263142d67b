// Package zktest starts real Apache ZooKeeper servers (standalone or
// ensembles) as plain JVM processes on free loopback ports, and provides a
// fault-injecting TCP proxy, for integration tests that must observe real
// session expiry, partitions, leader failover and frozen servers.
//
// Servers come from the Debian/Ubuntu `zookeeper` package (jars under
// /usr/share/java) and are run directly with
// `java -cp ... org.apache.zookeeper.server.quorum.QuorumPeerMain zoo.cfg`;
// the system zookeeperd service is never touched. Each server gets its own
// temporary directory holding zoo.cfg, the data directory and zookeeper.log
// (stdout+stderr of the JVM); Close removes it. JVMs die with the process
// that started them (Linux Pdeathsig), and directories left behind by a
// process that was killed are removed by the next process that starts a
// server.
//
// Defaults favour fast tests: tickTime 200ms (so sessions may be 400ms..4s),
// forceSync=no, small preallocated transaction logs and JVM flags tuned for
// start-up latency. Readiness is determined with the `srvr` four-letter word
// (the server reports a "Mode: "), not `ruok`, because `ruok` answers "imok"
// before the server can actually serve sessions.
//
// Environment:
//
//	CRONGUARD_REQUIRE_ZK=1     StartServer/StartTestEnsemble/SkipUnlessAvailable
//	                           fail instead of skip when ZooKeeper is unavailable.
//	CRONGUARD_ZK_JAVA=PATH     java binary to use (default: java in PATH, then /usr/bin/java).
//	CRONGUARD_ZK_CLASSPATH=CP  classpath to use instead of the Debian jars.
package zktest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Default locations of the Debian zookeeper package. zookeeper.jar's
// manifest Class-Path pulls in zookeeper-jute, slf4j-api, netty, jackson,
// jetty, ... from /usr/share/java, so only an slf4j binding must be added.
const (
	debianZooKeeperJar = "/usr/share/java/zookeeper.jar"
	debianSLF4JSimple  = "/usr/share/java/slf4j-simple.jar"
	quorumPeerMain     = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
)

// requiredJars are checked by Available: without them the JVM starts but
// dies with NoClassDefFoundError, which is a much worse error message.
var requiredJars = []string{
	debianZooKeeperJar,
	"/usr/share/java/zookeeper-jute.jar",
	"/usr/share/java/slf4j-api.jar",
	debianSLF4JSimple,
}

// DefaultJVMArgs are the JVM flags used for every server; they were chosen
// by measuring time-to-ready on a 2-core box (C1-only JIT and SerialGC save
// ~100ms of the ~0.5s start-up; a small heap keeps three JVMs cheap).
// WithJVMArgs appends to (and thereby overrides) these.
var DefaultJVMArgs = []string{
	"-Xms32m",
	"-Xmx256m",
	"-XX:+UseSerialGC",
	"-XX:TieredStopAtLevel=1",
	"-XX:-UsePerfData", // no /tmp/hsperfdata_* files
	"-Xshare:auto",
	"-Djava.net.preferIPv4Stack=true",
	"-Dzookeeper.jmx.log4j.disable=true",
	"-Dorg.slf4j.simpleLogger.showDateTime=true",
	"-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS",
}

// Option configures servers started by Start, StartEnsemble, StartServer and
// StartTestEnsemble.
type Option func(*options)

type options struct {
	tickTime     time.Duration
	minSession   time.Duration
	maxSession   time.Duration
	initLimit    int
	syncLimit    int
	config       [][2]string
	jvmArgs      []string
	startTimeout time.Duration
	logf         func(format string, args ...any)
}

func defaultOptions() options {
	return options{
		tickTime:     200 * time.Millisecond,
		initLimit:    10,
		syncLimit:    5,
		startTimeout: 60 * time.Second,
	}
}

func buildOptions(opts []Option) options {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

func (o *options) log(format string, args ...any) {
	if o.logf != nil {
		o.logf(format, args...)
	}
}

// WithTickTime sets ZooKeeper's tickTime (default 200ms, rounded to whole
// milliseconds). Session timeouts default to [2, 20] ticks and ensemble
// failure detection to syncLimit ticks, so this scales how fast sessions
// expire and leaders fail over.
func WithTickTime(d time.Duration) Option {
	return func(o *options) { o.tickTime = d }
}

// WithSessionTimeouts sets minSessionTimeout/maxSessionTimeout, the bounds
// the server clamps a client's requested session timeout to. Zero leaves a
// bound at ZooKeeper's default (2 and 20 ticks).
func WithSessionTimeouts(min, max time.Duration) Option {
	return func(o *options) { o.minSession, o.maxSession = min, max }
}

// WithLimits sets initLimit and syncLimit in ticks (defaults 10 and 5).
// syncLimit bounds how long a frozen or partitioned leader/follower goes
// unnoticed by its peers, i.e. how fast a frozen leader is replaced.
func WithLimits(initLimit, syncLimit int) Option {
	return func(o *options) { o.initLimit, o.syncLimit = initLimit, syncLimit }
}

// WithConfig adds (or overrides) a raw zoo.cfg line key=value, for anything
// this package has no dedicated option for. Keys unknown to ZooKeeper become
// Java system properties "zookeeper.<key>".
func WithConfig(key, value string) Option {
	return func(o *options) { o.config = append(o.config, [2]string{key, value}) }
}

// WithJVMArgs appends JVM flags after DefaultJVMArgs; later flags win, so
// this can also override a default (e.g. "-Xmx512m").
func WithJVMArgs(args ...string) Option {
	return func(o *options) { o.jvmArgs = append(o.jvmArgs, args...) }
}

// WithStartTimeout bounds how long a start or restart waits for readiness
// when the context has no earlier deadline (default 60s).
func WithStartTimeout(d time.Duration) Option {
	return func(o *options) { o.startTimeout = d }
}

// WithLogf receives one line per lifecycle event (started, stopped, frozen,
// ...) so test output shows what was done to which server and when.
// StartServer and StartTestEnsemble default it to t.Logf.
func WithLogf(logf func(format string, args ...any)) Option {
	return func(o *options) { o.logf = logf }
}

// javaPath returns the java binary to run.
func javaPath() (string, error) {
	if p := os.Getenv("CRONGUARD_ZK_JAVA"); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath("java"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/bin/java"); err == nil {
		return "/usr/bin/java", nil
	}
	return "", errors.New("zktest: java not found in PATH or /usr/bin/java (install the zookeeper package, or set CRONGUARD_ZK_JAVA)")
}

// classpath returns the JVM classpath and the files it consists of.
func classpath() (string, []string) {
	if cp := os.Getenv("CRONGUARD_ZK_CLASSPATH"); cp != "" {
		return cp, filepath.SplitList(cp)
	}
	return debianZooKeeperJar + string(filepath.ListSeparator) + debianSLF4JSimple, requiredJars
}

var availableOnce = sync.OnceValue(checkAvailable)

// Available reports why ZooKeeper servers cannot be started on this machine,
// or nil if java runs and the ZooKeeper jars are present. The result is
// computed once per process.
func Available() error { return availableOnce() }

func checkAvailable() error {
	java, err := javaPath()
	if err != nil {
		return err
	}
	_, files := classpath()
	for _, f := range files {
		if strings.ContainsAny(f, "*") {
			continue // classpath wildcard; let the JVM resolve it
		}
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("zktest: %v (install the Debian zookeeper package, or set CRONGUARD_ZK_CLASSPATH)", err)
		}
	}
	// A dangling alternatives symlink or a broken JRE is only detectable by
	// running it.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, java, "-version").CombinedOutput(); err != nil {
		if msg := strings.TrimSpace(string(out)); msg != "" {
			err = fmt.Errorf("%w: %s", err, msg)
		}
		return fmt.Errorf("zktest: running %s -version: %w", java, err)
	}
	return nil
}

// portRegistry remembers every port handed out by this process so that two
// servers started concurrently (or a restarted server and a new one) never
// get the same "free" port from the kernel.
var portRegistry = struct {
	sync.Mutex
	used map[int]bool
}{used: map[int]bool{}}

// freePorts returns n distinct currently-free TCP ports on 127.0.0.1. The
// listeners are held open until all n are chosen so they are distinct;
// another process can still grab one before ZooKeeper binds it, which
// callers handle by retrying with fresh ports.
func freePorts(n int) ([]int, error) {
	portRegistry.Lock()
	defer portRegistry.Unlock()
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	ports := make([]int, 0, n)
	for len(ports) < n {
		if len(lns) > n+200 {
			return nil, errors.New("zktest: cannot find free ports")
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("zktest: picking a free port: %w", err)
		}
		lns = append(lns, ln)
		p := ln.Addr().(*net.TCPAddr).Port
		if portRegistry.used[p] {
			continue
		}
		portRegistry.used[p] = true
		ports = append(ports, p)
	}
	return ports, nil
}

// startContext applies the default start timeout to ctx.
func startContext(ctx context.Context, o *options) (context.Context, context.CancelFunc) {
	if o.startTimeout > 0 {
		return context.WithTimeout(ctx, o.startTimeout)
	}
	return context.WithCancel(ctx)
}

// ownerFile, in every directory this package creates, names the process
// that owns it, so directories leaked by a killed test binary (cleanups do
// not run on SIGKILL or on a `go test -timeout` panic) can be recognised.
const ownerFile = "zktest.owner"

var sweepOnce sync.Once

// makeTempDir creates a server or ensemble directory under os.TempDir().
// The first call in a process also removes directories leaked by earlier
// processes that no longer exist.
func makeTempDir(pattern string) (string, error) {
	sweepOnce.Do(sweepLeakedDirs)
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// sweepLeakedDirs removes zktest-* directories whose owner process is gone.
// It is conservative: directories without a readable owner file, or whose
// owner pid exists (even if reused by another program), are left alone.
func sweepLeakedDirs() {
	matches, _ := filepath.Glob(filepath.Join(os.TempDir(), "zktest-*"))
	for _, dir := range matches {
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			os.RemoveAll(dir)
		}
	}
}
