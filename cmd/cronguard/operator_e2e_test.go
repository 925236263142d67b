package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// op runs an operator command against the env and returns exit code, stdout.
func (e *env) op(args ...string) (int, string, string) {
	e.t.Helper()
	p := e.run("operator", args...)
	return p.code, p.stdout.String(), p.stderr.String()
}

func (e *env) fleetData() string {
	e.t.Helper()
	d, _, err := e.conn.Get(e.prefix)
	if err != nil {
		e.t.Fatal(err)
	}
	return string(d)
}

func TestE2E_ConfigCommands(t *testing.T) {
	e := newEnv(t)
	if code, _, errOut := e.op("config", "get"); code != 125 || !strings.Contains(errOut, "config init") {
		t.Fatalf("get before init: %d %q", code, errOut)
	}
	if code, out, _ := e.op("config", "init", "--dry-run"); code != 0 || !strings.Contains(out, "dry run") || e.exists(e.prefix) {
		t.Fatalf("init --dry-run: %d %q (exists=%v)", code, out, e.exists(e.prefix))
	}
	if code, _, errOut := e.op("config", "init"); code != 0 {
		t.Fatalf("init: %d %s", code, errOut)
	}
	if code, _, _ := e.op("config", "init"); code != 1 {
		t.Fatalf("second init: %d, want 1 (refused)", code)
	}
	if code, out, _ := e.op("assign", "--create", "reports", "box-a", "box-b"); code != 0 || !strings.Contains(out, `+      "box-a",`) {
		t.Fatalf("assign: %d\n%s", code, out)
	}
	before := e.fleetData()
	if code, out, _ := e.op("unassign", "reports", "box-a", "--dry-run"); code != 0 || !strings.Contains(out, `-      "box-a",`) || e.fleetData() != before {
		t.Fatalf("unassign --dry-run: %d\n%s", code, out)
	}
	// An invalid config never reaches ZooKeeper.
	bad := filepath.Join(e.dir, "bad.json")
	os.WriteFile(bad, []byte(`{"groups": {"a": ["b"], "b": ["a"]}}`), 0o644)
	if code, _, errOut := e.op("config", "set", bad); code != 1 || !strings.Contains(errOut, "cycle") {
		t.Fatalf("set with a cycle: %d %q", code, errOut)
	}
	os.WriteFile(bad, []byte(`{"groups": `), 0o644)
	if code, _, errOut := e.op("config", "set", bad); code != 1 || !strings.Contains(errOut, "bad.json") {
		t.Fatalf("set with bad JSON: %d %q", code, errOut)
	}
	if code, out, _ := e.op("config", "validate", bad); code != 1 {
		t.Fatalf("validate bad file: %d %q", code, out)
	}
	if e.fleetData() != before {
		t.Fatal("an invalid config reached ZooKeeper")
	}
	if code, out, _ := e.op("unassign", "reports", "box-a"); code != 0 || strings.Contains(e.fleetData(), "box-a") {
		t.Fatalf("unassign: %d %s\n%s", code, out, e.fleetData())
	}
	if code, out, _ := e.op("config", "validate"); code != 0 || !strings.Contains(out, "valid") {
		t.Fatalf("validate: %d %q", code, out)
	}
	if code, out, errOut := e.op("config", "get"); code != 0 || !strings.Contains(out, `"box-b"`) || !strings.Contains(errOut, "version") {
		t.Fatalf("get: %d %q %q", code, out, errOut)
	}
}

func TestE2E_StatusExplainCheck(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(`{"groups": {"reports": "box-a", "batch": ["box1", "reports"]}}`)
	// check before any run: UNKNOWN.
	if code, out, _ := e.op("check", "--lock", "job", "--max-age", "1h"); code != 3 || !strings.HasPrefix(out, "CRONGUARD UNKNOWN") {
		t.Fatalf("check with no record: %d %q", code, out)
	}
	fail := e.script("job", "exit 3")
	if p := e.run("box-a", "run", "-g", "reports", "--", fail); p.code != 3 {
		t.Fatalf("failing run: %d", p.code)
	}
	if code, out, _ := e.op("check", "--lock", "job", "--max-age", "1h"); code != 2 || !strings.Contains(out, "never succeeded") {
		t.Fatalf("check after a failure: %d %q", code, out)
	}
	okJob := filepath.Join(e.dir, "job")
	os.WriteFile(okJob, []byte("#!/bin/sh\nexit 0\n"), 0o755)
	if p := e.run("box-a", "run", "-g", "reports", "--", okJob); p.code != 0 {
		t.Fatalf("run: %d", p.code)
	}
	if code, out, _ := e.op("check", "--lock", "job", "--max-age", "1h"); code != 0 || !strings.HasPrefix(out, "CRONGUARD OK") || !strings.Contains(out, "| age=") {
		t.Fatalf("check after success: %d %q", code, out)
	}
	if code, out, _ := e.op("check", "--lock", "job", "--max-age", "1h", "--warn-age", "1ms"); code != 1 {
		t.Fatalf("check warn: %d %q", code, out)
	}
	if code, out, _ := e.op("check", "--lock", "job", "--max-age", "1ms"); code != 2 {
		t.Fatalf("check critical: %d %q", code, out)
	}

	// A lock held by a switchman host, as switchman writes it.
	if _, err := e.conn.Create(e.lockPath("legacy"), []byte("old.example.com 4242"), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := e.op("status", "--json")
	if code != 0 {
		t.Fatalf("status --json: %d %s", code, errOut)
	}
	var snap struct {
		Groups map[string][]string
		Locks  []struct {
			Lock, Host, Holder string
			PID                int
			Fence              int64
		}
		Runs []struct {
			Lock        string
			LastRun     struct{ Exit int } `json:"last_run"`
			LastFailure struct{ Exit int } `json:"last_failure"`
		}
	}
	if err := json.Unmarshal([]byte(out), &snap); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got := strings.Join(snap.Groups["batch"], ","); got != "box1,box-a" {
		t.Errorf("batch expands to %q", got)
	}
	if len(snap.Locks) != 1 || snap.Locks[0].Host != "old.example.com" || snap.Locks[0].PID != 4242 || snap.Locks[0].Holder != "switchman" || snap.Locks[0].Fence == 0 {
		t.Errorf("locks: %+v", snap.Locks)
	}
	if len(snap.Runs) != 1 || snap.Runs[0].LastRun.Exit != 0 || snap.Runs[0].LastFailure.Exit != 3 {
		t.Errorf("runs: %+v", snap.Runs)
	}
	if code, out, _ := e.op("status"); code != 0 || !strings.Contains(out, "legacy") || !strings.Contains(out, "(switchman)") {
		t.Errorf("status: %d\n%s", code, out)
	}
	if code, out, _ := e.op("explain", "--group", "batch", "--host", "box-a"); code != 0 || !strings.Contains(out, "batch -> reports -> box-a") {
		t.Errorf("explain eligible: %d %q", code, out)
	}
	if code, out, _ := e.op("explain", "--group", "reports", "--host", "box1"); code != 1 || !strings.Contains(out, "NOT eligible") {
		t.Errorf("explain not eligible: %d %q", code, out)
	}
}

// TestE2E_ACLs: with `config init --acl`, the worker credential can run jobs
// (locks, run records) but only the operator credential can change the
// fleet config; anyone can read.
func TestE2E_ACLs(t *testing.T) {
	e := newEnv(t)
	cfg := func(name, auth string) string {
		p := filepath.Join(e.dir, name)
		body := `{"zkhosts": "` + e.zkAddr + `", "prefix": "` + e.prefix + `"`
		if auth != "" {
			body += `, "auth": "` + auth + `"`
		}
		os.WriteFile(p, []byte(body+"}"), 0o644)
		return p
	}
	operator, worker, anon := cfg("op.json", "op:opsecret"), cfg("w.json", "w:wsecret"), cfg("anon.json", "")
	as := func(config, host string, args ...string) *proc {
		logPath := e.newLogPath()
		p := e.startArgs(logPath, append([]string{"--config", config, "--hostname", host, "--log-file", logPath}, args...)...)
		p.wait(t, 30*time.Second)
		return p
	}
	if p := as(operator, "x", "config", "init", "--acl", "--worker", "w:wsecret"); p.code != 0 {
		t.Fatalf("init --acl: %d %s", p.code, p.stderr.String())
	}
	if p := as(operator, "x", "assign", "--create", "g", "hostA"); p.code != 0 {
		t.Fatalf("operator assign: %d %s", p.code, p.stderr.String())
	}
	if p := as(worker, "hostA", "run", "-g", "g", "--", "true"); p.code != 0 {
		t.Fatalf("worker run: %d %s", p.code, p.stderr.String())
	}
	if !e.exists(e.prefix + "/runs/true") {
		t.Fatal("worker run wrote no run record")
	}
	before := e.fleetData()
	if p := as(worker, "x", "assign", "g", "hostB"); p.code == 0 || !strings.Contains(p.stderr.String(), "not authenticated") {
		t.Fatalf("worker changed the fleet config: %d %s", p.code, p.stderr.String())
	}
	if p := as(anon, "x", "status"); p.code != 0 {
		t.Fatalf("anonymous status: %d %s", p.code, p.stderr.String())
	}
	if p := as(anon, "hostA", "run", "-g", "g", "--", "true"); p.code != 125 {
		t.Fatalf("anonymous run: %d, want 125 (no right to create the lock)", p.code)
	}
	if e.fleetData() != before {
		t.Fatal("fleet config changed")
	}
}

// opTTY runs an operator command with a terminal on its stdin (through
// util-linux script(1)), typing input; it returns the exit code and what
// the terminal showed (stdout and stderr together).
func (e *env) opTTY(input string, args ...string) (int, string) {
	e.t.Helper()
	if _, err := exec.LookPath("script"); err != nil {
		e.t.Skip("script(1) not installed: no terminal to test with")
	}
	all := append([]string{binPath, "--zk", e.zkAddr, "--prefix", e.prefix, "--hostname", "operator", "--log-file", "-", "--log-level", "warn"}, args...)
	quoted := make([]string, len(all))
	for i, a := range all {
		quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	cmd := exec.Command("script", "-qec", strings.Join(quoted, " "), "/dev/null")
	cmd.Env = append(withoutCronguardEnv(os.Environ()), "CRONGUARD_STATE_DIR="+filepath.Join(e.dir, "state"))
	cmd.Env = append(cmd.Env, e.extraEnv...)
	cmd.Stdin = strings.NewReader(input)
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		e.t.Fatalf("%v did not exit: %s", args, out)
	}
	return exitCodeOf(err), string(out)
}

func TestE2E_ConfigEdit(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(`{"groups": {"reports": "box-a"}}`)
	// An "editor" that first writes a cycle, then (re-opened) a valid config.
	state := filepath.Join(e.dir, "edit-state")
	editor := e.script("editor", `if [ -e `+state+` ]; then
  printf '{"groups": {"reports": ["box-a", "box-b"]}}' > "$1"
else
  echo 1 > `+state+`
  printf '{"groups": {"reports": ["h"], "h": ["reports"]}}' > "$1"
fi
`)
	e.extraEnv = []string{"EDITOR=" + editor}
	// Without a terminal it refuses at once, whatever the editor.
	start := time.Now()
	if code, _, errOut := e.op("config", "edit"); code != 1 || !strings.Contains(errOut, "terminal") || time.Since(start) > 10*time.Second {
		t.Fatalf("config edit without a terminal: %d %q", code, errOut)
	}
	code, out := e.opTTY("", "config", "edit")
	if code != 0 {
		t.Fatalf("config edit: %d %s", code, out)
	}
	if !strings.Contains(out, "cycle") || !strings.Contains(out, "re-opening") {
		t.Errorf("the invalid draft was not reported: %q", out)
	}
	if !strings.Contains(out, `+      "box-b"`) {
		t.Errorf("no diff printed: %q", out)
	}
	if got := e.fleetData(); !strings.Contains(got, `"box-b"`) || strings.Contains(got, `"h"`) {
		t.Errorf("fleet config after edit: %s", got)
	}
}

// TestE2E_Typos: assign to a group that does not exist is refused with the
// closest name (unless --create), unassign of a host not in the group is
// refused and writes nothing, a config that looks misspelt is asked about
// on a terminal and refused elsewhere without --force, and a config that
// did not change is never written.
func TestE2E_Typos(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(`{"groups":{"reports":["box-a"],"batch":["box1"]}}`)
	_, st, _ := e.conn.Get(e.prefix)
	version := func() int32 {
		_, s, err := e.conn.Get(e.prefix)
		if err != nil {
			t.Fatal(err)
		}
		return s.Version
	}
	if code, _, errOut := e.op("assign", "reprots", "box-b"); code != 1 || !strings.Contains(errOut, "no group reprots; did you mean reports?") || version() != st.Version {
		t.Fatalf("assign to a misspelt group: %d %q", code, errOut)
	}
	if code, out, errOut := e.op("assign", "--create", "web", "w1"); code != 0 || !strings.Contains(out, `"web"`) || !strings.Contains(e.fleetData(), `"w1"`) {
		t.Fatalf("assign --create: %d %q %q", code, out, errOut)
	}
	v := version()
	if code, _, errOut := e.op("unassign", "reports", "box-a", "box-z"); code != 1 || !strings.Contains(errOut, "box-z is not in group reports") || version() != v {
		t.Fatalf("unassign of a host not in the group: %d %q (version %d -> %d)", code, errOut, v, version())
	}
	if code, _, errOut := e.op("unassign", "bacth", "box1"); code != 1 || !strings.Contains(errOut, "did you mean batch?") {
		t.Fatalf("unassign from a misspelt group: %d %q", code, errOut)
	}
	// The same config in another layout: unchanged, not written.
	e.setFleet(`{"groups":{"reports":["box-a"],"batch":["box1"]}}`)
	v = version()
	same := filepath.Join(e.dir, "same.json")
	os.WriteFile(same, []byte("{\n \"groups\": {\"batch\": [\"box1\"], \"reports\": [\"box-a\"]}\n}\n"), 0o644)
	if code, out, _ := e.op("config", "set", same); code != 0 || !strings.Contains(out, "unchanged") || version() != v {
		t.Fatalf("set of the same config: %d %q (version %d -> %d)", code, out, v, version())
	}
	if code, out, _ := e.op("assign", "reports", "box-a"); code != 0 || !strings.Contains(out, "unchanged") || version() != v {
		t.Fatalf("assign of a member: %d %q (version %d -> %d)", code, out, v, version())
	}
	// A near-miss name: refused without a terminal, asked on one.
	typo := filepath.Join(e.dir, "typo.json")
	os.WriteFile(typo, []byte(`{"groups":{"reports":["box-a"],"batch":["box1","reprots"]}}`), 0o644)
	if code, out, errOut := e.op("config", "set", typo); code != 1 || !strings.Contains(out, `looks like group "reports" misspelt`) || !strings.Contains(errOut, "--force") || version() != v {
		t.Fatalf("set with a near miss, no terminal: %d %q %q", code, out, errOut)
	}
	if code, out := e.opTTY("n\n", "config", "set", typo); code != 1 || !strings.Contains(out, "[y/N]") || version() != v {
		t.Fatalf("set with a near miss, answered n: %d %q", code, out)
	}
	if code, out := e.opTTY("y\n", "config", "set", typo); code != 0 || version() == v {
		t.Fatalf("set with a near miss, answered y: %d %q", code, out)
	}
	os.WriteFile(typo, []byte(`{"groups":{"reports":["box-a"],"batch":["box1","reprots","bacth"]}}`), 0o644)
	if code, _, errOut := e.op("config", "set", "--force", typo); code != 0 || !strings.Contains(e.fleetData(), "bacth") {
		t.Fatalf("set --force: %d %q", code, errOut)
	}
}
