package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestE2E_History: `history LOCK` shows the record's runs newest first,
// --limit cuts them, --json gives the entries; no record is exit 1 with
// one line, an unreachable ZooKeeper 125.
func TestE2E_History(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(`{"groups": {"g": "box-a"}}`)
	if code, _, errOut := e.op("history", "job"); code != 1 || strings.Count(errOut, "cronguard: ") != 1 || !strings.Contains(errOut, "cronguard: no run record for job") {
		t.Fatalf("history with no record: %d %q", code, errOut)
	}
	fail, ok := e.script("fail", "exit 3"), e.script("ok", "exit 0")
	if p := e.run("box-a", "run", "-g", "g", "--lock", "job", "--", fail); p.code != 3 {
		t.Fatalf("run: %d", p.code)
	}
	if p := e.run("box-a", "run", "-g", "g", "--lock", "job", "--", ok); p.code != 0 {
		t.Fatalf("run: %d", p.code)
	}
	code, out, errOut := e.op("history", "job")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "START") ||
		!strings.Contains(lines[1], "box-a  0 ") || !strings.Contains(lines[2], "box-a  3 ") {
		t.Fatalf("history: %d %s\n%s", code, errOut, out)
	}
	code, out, _ = e.op("history", "job", "--json", "--limit", "1")
	var got struct {
		Lock string
		Runs []struct {
			Host string
			Exit int
			End  time.Time
		}
	}
	if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil || got.Lock != "job" || len(got.Runs) != 1 || got.Runs[0].Exit != 0 || got.Runs[0].End.IsZero() {
		t.Fatalf("history --json --limit 1: %d %v\n%s", code, err, out)
	}
	p := exec.Command(binPath, "--zk", "127.0.0.1:1", "--prefix", e.prefix, "history", "job")
	p.Env = withoutCronguardEnv(p.Environ())
	outB, err := p.CombinedOutput()
	if exitCodeOf(err) != 125 {
		t.Fatalf("history with ZooKeeper unreachable: %v %s", err, outB)
	}
}
