package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestE2E_StatusBrokenFleetConfig: status shows what it can, says why,
// and exits 1 when the fleet config cannot be read (text and --json).
func TestE2E_StatusBrokenFleetConfig(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(`{"groups": `)
	for _, args := range [][]string{{"status"}, {"status", "--json"}} {
		code, out, errOut := e.op(args...)
		if code != 1 || !strings.Contains(out, "fleet config") || !strings.Contains(errOut, "cronguard: the fleet config in "+e.prefix+" is broken") {
			t.Errorf("%v: %d\n%s\n%s", args, code, out, errOut)
		}
	}
	e.setFleet(`{"groups": {"g": "a"}}`)
	if code, _, errOut := e.op("status"); code != 0 {
		t.Errorf("status of a valid config: %d %s", code, errOut)
	}
}

// TestE2E_SkipHolderObject: the skip event of a busy lock carries the
// holder's data as a JSON object, not JSON in a string; a user-facing error
// has no "lock:" package prefix.
func TestE2E_SkipHolderObject(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(`{"groups": {"g": ["box-a", "box-b"]}}`)
	started := e.dir + "/started"
	job := e.script("job", "touch "+started+"; sleep 30")
	holder := e.start("box-a", "run", "-g", "g", "--lock", "L", "--", job, "two words")
	deadline := time.Now().Add(20 * time.Second)
	for !e.existsFile(started) {
		if time.Now().After(deadline) {
			t.Fatalf("the job did not start: %s\n%s", holder.stderr.String(), holder.logText())
		}
		time.Sleep(10 * time.Millisecond)
	}
	p := e.run("box-b", "run", "-g", "g", "--lock", "L", "--", job)
	skip := p.mustEvent(t, "skip")
	h, ok := skip["holder"].(map[string]any)
	if !ok || h["host"] != "box-a" || h["command"] != job+" 'two words'" {
		t.Errorf("skip holder %#v (%T)", skip["holder"], skip["holder"])
	}
	holder.cmd.Process.Kill()
	p = e.run("box-b", "run", "-g", "g", "--lock", "a/b", "--", job)
	if errOut := p.stderr.String(); p.code != 125 || !strings.Contains(errOut, "invalid lock name") || strings.Contains(errOut, "lock: invalid") {
		t.Errorf("invalid lock name: %d %q", p.code, errOut)
	}
}

func (e *env) existsFile(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
