package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// preflight reads the fleet config when ZooKeeper answers and reports one
// longer than switchman's data_read_len (default 65535, or the local
// config's); when ZooKeeper does not answer it says so in one line and the
// crontab checks still decide the exit.
func TestE2E_PreflightFleetConfigSize(t *testing.T) {
	e := newEnv(t)
	empty := t.TempDir()
	absent := filepath.Join(e.dir, "absent")
	args := []string{"preflight", "--cron-dir", empty, "--system-crontab", absent}
	big := fmt.Sprintf(`{"groups": {"g": ["hostA"]}, "pad": %q}`, strings.Repeat("x", 70000))

	e.writeFleet(big)
	p := e.run("hostA", args...)
	if p.code != 1 || !strings.Contains(p.stdout.String(), "data_read_len") || !strings.Contains(p.stdout.String(), "over the 65535 bytes") {
		t.Fatalf("a %d-byte fleet config: exit %d, stdout:\n%s\nstderr:\n%s", len(big), p.code, p.stdout.String(), p.stderr.String())
	}

	// A local config raising data_read_len (switchman's hosts raised it too).
	cfg := filepath.Join(e.dir, "raised.json")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`{"zkhosts": %q, "prefix": %q, "data_read_len": 200000, "state_dir": %q}`,
		e.zkAddr, e.prefix, filepath.Join(e.dir, "state"))), 0o644); err != nil {
		t.Fatal(err)
	}
	p = e.startWithConfig(cfg, "hostA", args...)
	p.wait(t, 30e9)
	if strings.Contains(p.stdout.String(), "data_read_len") {
		t.Errorf("data_read_len 200000: stdout\n%s", p.stdout.String())
	}

	e.writeFleet(fleetABC)
	p = e.run("hostA", args...)
	if strings.Contains(p.stdout.String(), "fleet config") {
		t.Errorf("a small fleet config: stdout\n%s", p.stdout.String())
	}

	// ZooKeeper unreachable: one line, and the crontab findings still count.
	unreachable := filepath.Join(e.dir, "unreachable.json")
	if err := os.WriteFile(unreachable, []byte(fmt.Sprintf(`{"zkhosts": "127.0.0.1:1", "prefix": %q, "connect_timeout": 1, "state_dir": %q}`,
		e.prefix, filepath.Join(e.dir, "state"))), 0o644); err != nil {
		t.Fatal(err)
	}
	crontab := filepath.Join(e.dir, "crontab")
	if err := os.WriteFile(crontab, []byte("0 1 * * * switchman -g batch --bogus-flag -- /usr/local/bin/x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p = e.startWithConfig(unreachable, "hostA", append(args, "--crontab", crontab)...)
	p.wait(t, 30e9)
	out := p.stdout.String()
	if p.code != 1 || strings.Count(out, "fleet config: not checked") != 1 || !strings.Contains(out, "crontab:1: cronguard refuses") {
		t.Errorf("unreachable: exit %d, stdout:\n%s\nstderr:\n%s", p.code, out, p.stderr.String())
	}
	p = e.startWithConfig(unreachable, "hostA", args...)
	p.wait(t, 30e9)
	if p.code != 0 && !strings.HasPrefix(p.stdout.String(), "identity:") {
		t.Errorf("unreachable, nothing else to say: exit %d, stdout:\n%s", p.code, p.stdout.String())
	}
}
