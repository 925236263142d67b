package main

// End-to-end proof of the README's ACL table: a fleet made with
// `config init --acl`, real runs of the built binary as the worker and as
// the operator, and every sentence of the table tried with each credential
// against real ZooKeeper.

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

const (
	aclOperator = "op:opsecret"
	aclWorker   = "w:wsecret"
	aclStranger = "x:xsecret" // a digest credential the fleet does not know
)

// aclConfig writes a local config file for this env with auth (none if "").
func (e *env) aclConfig(name, auth string) string {
	e.t.Helper()
	p := filepath.Join(e.dir, name)
	body := `{"zkhosts": "` + e.zkAddr + `", "prefix": "` + e.prefix + `", "loglevel": "debug", "log_format": "json"`
	if auth != "" {
		body += `, "auth": "` + auth + `"`
	}
	if err := os.WriteFile(p, []byte(body+"}"), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// startAs runs cronguard with a config file (its credential) and hostname.
func (e *env) startAs(config, host string, args ...string) *proc {
	e.t.Helper()
	logPath := e.newLogPath()
	return e.startArgs(logPath, append([]string{"--config", config, "--hostname", host, "--log-file", logPath}, args...)...)
}

func (e *env) runAs(config, host string, args ...string) *proc {
	e.t.Helper()
	p := e.startAs(config, host, args...)
	p.wait(e.t, 60*time.Second)
	return p
}

// authConn is a raw ZooKeeper client with a digest credential ("" = none).
func (e *env) authConn(auth string) *zk.Conn {
	e.t.Helper()
	if auth == "" {
		return e.conn
	}
	c, _, err := zk.Connect(strings.Split(e.zkAddr, ","), 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(c.Close)
	if err := c.AddAuth("digest", []byte(auth)); err != nil {
		e.t.Fatal(err)
	}
	return c
}

// onlyChild waits until dir has exactly one child matching re and returns its path.
func (e *env) onlyChild(dir string, re *regexp.Regexp) string {
	e.t.Helper()
	e.waitLeaseKids(dir, re, 1, 15*time.Second)
	for _, k := range e.leaseKids(dir) {
		if re.MatchString(k) {
			return dir + "/" + k
		}
	}
	panic("unreachable")
}

// aclProbe tries one operation on p as conn and reports whether ZooKeeper
// let it through. Writes carry a version that cannot match: ZooKeeper
// checks the ACL first, so "bad version" means allowed and nothing changed.
type aclProbe func(t *testing.T, c *zk.Conn, p string) bool

const noSuchVersion = 1 << 30

func permitted(t *testing.T, what, p string, err error, allowed ...error) bool {
	t.Helper()
	if errors.Is(err, zk.ErrNoAuth) {
		return false
	}
	if err == nil {
		return true
	}
	for _, a := range allowed {
		if errors.Is(err, a) {
			return true
		}
	}
	t.Fatalf("%s %s: unexpected %v", what, p, err)
	return false
}

var (
	probeRead aclProbe = func(t *testing.T, c *zk.Conn, p string) bool {
		_, _, err := c.Get(p)
		return permitted(t, "get", p, err)
	}
	probeSet aclProbe = func(t *testing.T, c *zk.Conn, p string) bool {
		_, err := c.Set(p, []byte("probe"), noSuchVersion)
		return permitted(t, "set", p, err, zk.ErrBadVersion)
	}
	probeDelete aclProbe = func(t *testing.T, c *zk.Conn, p string) bool {
		err := c.Delete(p, noSuchVersion)
		return permitted(t, "delete", p, err, zk.ErrBadVersion, zk.ErrNotEmpty)
	}
	probeSetACL aclProbe = func(t *testing.T, c *zk.Conn, p string) bool {
		acl, _, err := c.GetACL(p)
		if err != nil {
			t.Fatalf("getAcl %s: %v", p, err)
		}
		_, err = c.SetACL(p, acl, noSuchVersion)
		return permitted(t, "setAcl", p, err, zk.ErrBadVersion)
	}
	// probeCreate creates an ephemeral child named aclprobe (not a name any
	// queue, mutex or semaphore reads as one of its own) and removes it.
	probeCreate aclProbe = func(t *testing.T, c *zk.Conn, p string) bool {
		_, err := c.Create(p+"/aclprobe", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
		ok := permitted(t, "create in", p, err)
		if ok {
			if err := c.Delete(p+"/aclprobe", -1); err != nil {
				t.Fatalf("delete %s/aclprobe: %v", p, err)
			}
		}
		return ok
	}
)

// TestE2E_ACLTable proves each sentence of the README's ACL section with
// each credential: the operator (auth = the credential of
// `config init --acl`), the worker (auth = its --worker), an unauthenticated
// client and a credential the fleet does not know.
func TestE2E_ACLTable(t *testing.T) {
	e := newEnv(t)
	opCfg, wCfg := e.aclConfig("op.json", aclOperator), e.aclConfig("w.json", aclWorker)
	anonCfg, xCfg := e.aclConfig("anon.json", ""), e.aclConfig("x.json", aclStranger)
	if p := e.runAs(opCfg, "admin", "config", "init", "--acl", "--worker", aclWorker); p.code != 0 {
		t.Fatalf("config init --acl: %d %s", p.code, p.stderr.String())
	}
	fleetFile := filepath.Join(e.dir, "fleet.json")
	os.WriteFile(fleetFile, []byte(`{"groups": {"g": ["hostA", "hostB", "hostC"]}, "resources": ["mem", "cpu"]}`), 0o644)
	if p := e.runAs(opCfg, "admin", "config", "set", fleetFile); p.code != 0 {
		t.Fatalf("operator config set: %d %s", p.code, p.stderr.String())
	}
	conns := map[string]*zk.Conn{
		"operator": e.authConn(aclOperator), "worker": e.authConn(aclWorker),
		"unauthenticated": e.authConn(""), "stranger": e.authConn(aclStranger),
	}

	// The operator runs a job first: its run makes the directories of
	// resource cpu and the job's run record. A worker's run must still be
	// able to use them and to add to the record.
	for _, as := range []struct{ cfg, host string }{{opCfg, "hostA"}, {wCfg, "hostB"}} {
		p := e.runAs(as.cfg, as.host, "run", "-g", "g", "--lock", "shared", "--lease", "cpu=1:2", "--", "true")
		if p.code != 0 {
			t.Fatalf("run of %s with --lease as %s: %d\n%s\n%s", as.host, as.cfg, p.code, p.stderr.String(), p.logText())
		}
	}
	data, _, err := e.conn.Get(e.prefix + "/runs/shared")
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		History []struct{ Host string } `json:"history"`
	}
	if json.Unmarshal(data, &rec) != nil || len(rec.History) != 2 {
		t.Fatalf("run record after an operator's and a worker's run: %s", data)
	}

	// The scene, all worker runs: hostA holds lock L and a lease of mem;
	// hostB waits for L (--wait: an entry in queues/_locks); hostC waits for
	// a lease of mem, holding its queue entry and a semaphore mutex node
	// (behind one the test holds, so that it stays).
	release := filepath.Join(e.dir, "release")
	started := filepath.Join(e.dir, "started")
	job := e.script("job", "echo $$ > "+started+"\nwhile [ ! -e "+release+" ]; do sleep 0.01; done\n")
	holder := e.startAs(wCfg, "hostA", "run", "-g", "g", "--lock", "L", "--lease", "mem=1:1", "--", job)
	jobPid := atoi(t, waitFile(t, started, 15*time.Second))
	mutexDir := e.prefix + "/semaphores/mem/lock"
	blocker, err := conns["operator"].Create(mutexDir+"/acquire-", nil, zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil {
		t.Fatal(err)
	}
	waiter := e.startAs(wCfg, "hostB", "run", "-g", "g", "--lock", "L", "--wait", "60s", "--", "true")
	leaser := e.startAs(wCfg, "hostC", "run", "-g", "g", "--lock", "L2", "--lease", "mem=1:1", "--", "true")

	lock := e.lockPath("L")
	lease := e.onlyChild(e.leasesDir("mem"), regexp.MustCompile(`^1_1_\d{10}$`))
	lockEntry := e.onlyChild(e.queueDir("_locks"), regexp.MustCompile(`^L-\d{10}$`))
	leaseEntry := e.onlyChild(e.queueDir("mem"), regexp.MustCompile(`^L2-\d{10}$`))
	e.waitLeaseKids(mutexDir, regexp.MustCompile(`^acquire-\d{10}$`), 2, 15*time.Second)
	var mutex string
	for _, k := range e.leaseKids(mutexDir) {
		if mutexDir+"/"+k != blocker {
			mutex = mutexDir + "/" + k
		}
	}
	held := []string{lock, lease, lockEntry, leaseEntry, mutex}
	workerDirs := []string{e.queueDir("mem"), e.queueDir("_locks"), e.prefix + "/semaphores/mem",
		mutexDir, e.leasesDir("mem")}
	operatorDirs := []string{e.queueDir("cpu"), e.prefix + "/semaphores/cpu", e.prefix + "/semaphores/cpu/lock",
		e.leasesDir("cpu")}
	runDirs := append(append([]string{}, workerDirs...), operatorDirs...)
	shared := []string{e.prefix + "/locks", e.prefix + "/runs", e.prefix + "/queues", e.prefix + "/semaphores"}
	record := e.prefix + "/runs/shared"
	everything := append(append(append(append([]string{e.prefix}, shared...), runDirs...), held...), record)

	type who map[string]bool
	all := who{"operator": true, "worker": true, "unauthenticated": true, "stranger": true}
	opOnly := who{"operator": true}
	opAndWorker := who{"operator": true, "worker": true}
	workerOnly := who{"worker": true}
	for _, row := range []struct {
		sentence string
		paths    []string
		probe    aclProbe
		allowed  who
	}{
		{"everyone reads everything", everything, probeRead, all},
		{"only the operator changes the fleet config", []string{e.prefix}, probeSet, opOnly},
		{"only the operator and the workers read the ACL template", []string{e.prefix + "/acl"}, probeRead, opAndWorker},
		{"only the operator changes the ACL template", []string{e.prefix + "/acl"}, probeSet, opOnly},
		{"only the operator creates or deletes the fleet's directories (children of the prefix)", []string{e.prefix}, probeCreate, opOnly},
		{"only the operator deletes the fleet's directories", shared, probeDelete, opOnly},
		{"operator and worker create and delete nodes in the fleet's directories", append(shared, runDirs...), probeCreate, opAndWorker},
		{"operator and worker delete the directories runs make", runDirs, probeDelete, opAndWorker},
		{"operator and worker change run records", []string{record}, probeSet, opAndWorker},
		{"operator and worker delete run records", []string{record}, probeDelete, opAndWorker},
		{"the data of a held lock, lease, queue entry or mutex is changed only by the worker credential", held, probeSet, workerOnly},
		{"operator and worker delete a held lock, lease, queue entry or mutex", held, probeDelete, opAndWorker},
		{"only the operator changes ACLs of the prefix, the fleet's directories, the directories runs make and run records",
			append(append(append([]string{e.prefix}, shared...), runDirs...), record), probeSetACL, opOnly},
		{"nobody changes the ACL of a held lock, lease, queue entry or mutex", held, probeSetACL, who{}},
	} {
		t.Run(row.sentence, func(t *testing.T) {
			for _, name := range []string{"operator", "worker", "unauthenticated", "stranger"} {
				for _, p := range row.paths {
					if got := row.probe(t, conns[name], p); got != row.allowed[name] {
						acl, _, _ := e.conn.GetACL(p)
						t.Errorf("%s on %s: allowed=%v, want %v (ACL %v)", name, strings.TrimPrefix(p, e.prefix), got, row.allowed[name], acl)
					}
				}
			}
		})
	}

	t.Run("an unauthenticated or foreign set of a held lock is refused and the job keeps running", func(t *testing.T) {
		for _, name := range []string{"unauthenticated", "stranger"} {
			if _, err := conns[name].Set(lock, []byte("someone else"), -1); !errors.Is(err, zk.ErrNoAuth) {
				t.Errorf("%s set of the held lock: %v, want %v", name, err, zk.ErrNoAuth)
			}
			if err := conns[name].Delete(lock, -1); !errors.Is(err, zk.ErrNoAuth) {
				t.Errorf("%s delete of the held lock: %v, want %v", name, err, zk.ErrNoAuth)
			}
		}
		time.Sleep(300 * time.Millisecond) // a stop would have begun by now
		if !pidAlive(jobPid) || len(holder.events("stop")) > 0 {
			t.Fatalf("the job was stopped: %s", holder.logText())
		}
	})

	t.Run("only the operator changes the fleet config through cronguard", func(t *testing.T) {
		before := e.fleetData()
		for _, cfg := range []string{wCfg, anonCfg, xCfg} {
			if p := e.runAs(cfg, "admin", "assign", "g", "hostD"); p.code == 0 || !strings.Contains(p.stderr.String(), "not authenticated") {
				t.Errorf("assign as %s: %d %s", filepath.Base(cfg), p.code, p.stderr.String())
			}
		}
		if e.fleetData() != before {
			t.Fatal("the fleet config changed")
		}
		if p := e.runAs(opCfg, "admin", "assign", "g", "hostD"); p.code != 0 {
			t.Errorf("operator assign: %d %s", p.code, p.stderr.String())
		}
	})

	t.Run("anyone reads status", func(t *testing.T) {
		for _, cfg := range []string{anonCfg, xCfg, wCfg} {
			if p := e.runAs(cfg, "admin", "status"); p.code != 0 || !strings.Contains(p.stdout.String(), "L") {
				t.Errorf("status as %s: %d %s", filepath.Base(cfg), p.code, p.stderr.String())
			}
		}
	})

	t.Run("unauthenticated and foreign runs fail with 125", func(t *testing.T) {
		for _, cfg := range []string{anonCfg, xCfg} {
			if p := e.runAs(cfg, "hostA", "run", "-g", "g", "--lock", "other", "--", "true"); p.code != 125 {
				t.Errorf("run as %s: %d, want 125", filepath.Base(cfg), p.code)
			}
		}
	})

	// The waiting worker runs get their turn once the holder ends.
	os.WriteFile(release, []byte("x"), 0o644)
	if code := holder.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("holder: exit %d\n%s", code, holder.logText())
	}
	if code := waiter.wait(t, 20*time.Second); code != 0 || len(waiter.events("start")) != 1 {
		t.Fatalf("--wait run: exit %d\n%s", code, waiter.logText())
	}
	if err := conns["operator"].Delete(blocker, -1); err != nil {
		t.Fatal(err)
	}
	if code := leaser.wait(t, 20*time.Second); code != 0 || len(leaser.events("start")) != 1 {
		t.Fatalf("--lease run: exit %d\n%s", code, leaser.logText())
	}
}

// TestE2E_ACLOperatorDeletesHeldLock: the operator cannot change a held
// lock's data but can delete it, which kills the job at once.
func TestE2E_ACLOperatorDeletesHeldLock(t *testing.T) {
	e := newEnv(t)
	opCfg, wCfg := e.aclConfig("op.json", aclOperator), e.aclConfig("w.json", aclWorker)
	if p := e.runAs(opCfg, "admin", "config", "init", "--acl", "--worker", aclWorker); p.code != 0 {
		t.Fatalf("config init --acl: %d %s", p.code, p.stderr.String())
	}
	if p := e.runAs(opCfg, "admin", "assign", "--create", "g", "hostA"); p.code != 0 {
		t.Fatalf("assign: %d %s", p.code, p.stderr.String())
	}
	job, childFile, _, _ := e.longJob("job")
	p := e.startAs(wCfg, "hostA", "run", "-g", "g", "--", job)
	waitFile(t, childFile, 15*time.Second)
	op := e.authConn(aclOperator)
	if _, err := op.Set(e.lockPath("job"), []byte("operator"), -1); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("operator set of the held lock: %v, want %v", err, zk.ErrNoAuth)
	}
	if err := op.Delete(e.lockPath("job"), -1); err != nil {
		t.Fatalf("operator delete of the held lock: %v", err)
	}
	if code := p.wait(t, 10*time.Second); code != 137 {
		t.Fatalf("exit %d, want 137 (SIGKILL at once)", code)
	}
	if stop := p.mustEvent(t, "stop"); stop["reason"] != "lock_lost" {
		t.Errorf("stop reason %v", stop["reason"])
	}
}

// TestE2E_ACLUnauthenticatedSetOfHeldLock: under ACLs an unauthenticated
// client can neither change nor delete a held lock, and the job runs on
// (when the lock node was open to the world, such a set stopped the job
// with lock_lost, exit 143).
func TestE2E_ACLUnauthenticatedSetOfHeldLock(t *testing.T) {
	e := newEnv(t)
	opCfg, wCfg := e.aclConfig("op.json", aclOperator), e.aclConfig("w.json", aclWorker)
	if p := e.runAs(opCfg, "admin", "config", "init", "--acl", "--worker", aclWorker); p.code != 0 {
		t.Fatalf("config init --acl: %d %s", p.code, p.stderr.String())
	}
	if p := e.runAs(opCfg, "admin", "assign", "--create", "g", "hostA"); p.code != 0 {
		t.Fatalf("assign: %d %s", p.code, p.stderr.String())
	}
	release := filepath.Join(e.dir, "release")
	started := filepath.Join(e.dir, "started")
	job := e.script("job", "echo $$ > "+started+"\nwhile [ ! -e "+release+" ]; do sleep 0.01; done\n")
	p := e.startAs(wCfg, "hostA", "run", "-g", "g", "--lock", "L", "--", job)
	pid := atoi(t, waitFile(t, started, 15*time.Second))
	if _, err := e.conn.Set(e.lockPath("L"), []byte("someone else"), -1); !errors.Is(err, zk.ErrNoAuth) {
		t.Errorf("unauthenticated set of the held lock: %v, want %v", err, zk.ErrNoAuth)
	}
	if err := e.conn.Delete(e.lockPath("L"), -1); !errors.Is(err, zk.ErrNoAuth) {
		t.Errorf("unauthenticated delete of the held lock: %v, want %v", err, zk.ErrNoAuth)
	}
	time.Sleep(300 * time.Millisecond)
	if !pidAlive(pid) {
		t.Error("the job was stopped")
	}
	os.WriteFile(release, []byte("x"), 0o644)
	if code := p.wait(t, 15*time.Second); code != 0 || len(p.events("stop")) > 0 {
		t.Fatalf("exit %d, want 0\n%s", code, p.logText())
	}
}
