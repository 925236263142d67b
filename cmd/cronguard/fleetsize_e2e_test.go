package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestE2E_FleetConfigOverSwitchmanReadLen: switchman reads at most
// data_read_len bytes (65535 by default) of the fleet config, so a longer
// one kills every switchman host. config set, edit, assign and validate
// refuse it, saying the size, the limit and how to lift it, unless told no
// switchman host is left (--no-switchman, key no_switchman) or the local
// config's data_read_len is raised. Real ZooKeeper.
func TestE2E_FleetConfigOverSwitchmanReadLen(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(`{"groups": {"g": "box1"}}`)
	var hosts []string
	for i := 0; i < 4500; i++ {
		hosts = append(hosts, fmt.Sprintf(`"host%04d.example.com"`, i))
	}
	big := filepath.Join(e.dir, "big.json")
	os.WriteFile(big, []byte(`{"groups": {"g": "box1", "big": [`+strings.Join(hosts, ", ")+`]}}`), 0o644)
	before := e.fleetData()

	code, _, errOut := e.op("config", "set", big)
	if code != 1 {
		t.Fatalf("set of a ~113 KB config: exit %d, want 1 (refused); stderr %q", code, errOut)
	}
	for _, want := range []string{" bytes, over the 65535 bytes switchman reads", "data_read_len", "--no-switchman", `"no_switchman": true`, "nothing written"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("error lacks %q: %s", want, errOut)
		}
	}
	if e.fleetData() != before {
		t.Fatal("the refused config reached ZooKeeper")
	}
	if code, _, errOut := e.op("config", "validate", big); code != 1 || !strings.Contains(errOut, "switchman reads") {
		t.Errorf("validate FILE over the limit: exit %d, want 1; stderr %q", code, errOut)
	}

	// data_read_len raised in the local config (switchman hosts raised it too).
	conf := filepath.Join(e.dir, "raised.conf")
	os.WriteFile(conf, []byte(`{"zkhosts": "`+e.zkAddr+`", "prefix": "`+e.prefix+`", "data_read_len": 262144}`), 0o644)
	if p := e.run("operator", "-c", conf, "config", "set", "--dry-run", big); p.code != 0 {
		t.Errorf("set with data_read_len 262144: exit %d; stderr %s", p.code, p.stderr.String())
	}

	// --no-switchman: written.
	if code, _, errOut := e.op("config", "set", "--no-switchman", big); code != 0 {
		t.Fatalf("set --no-switchman: exit %d; %s", code, errOut)
	}
	size := len(e.fleetData())
	if size <= 65535 {
		t.Fatalf("stored config is %d bytes, the test needs more than 65535", size)
	}
	t.Logf("stored fleet config: %d bytes", size)

	// The stored config: validate and a growing assign refuse it; a
	// shrinking unassign is allowed (it cannot break a host further).
	if code, _, errOut := e.op("config", "validate"); code != 1 || !strings.Contains(errOut, fmt.Sprintf("%d bytes, over the 65535", size)) {
		t.Errorf("validate of the stored config: exit %d, stderr %q", code, errOut)
	}
	if code, _, _ := e.op("config", "validate", "--no-switchman"); code != 0 {
		t.Errorf("validate --no-switchman: exit %d", code)
	}
	if code, _, errOut := e.op("assign", "big", "hostnew.example.com"); code != 1 || !strings.Contains(errOut, "switchman reads") {
		t.Errorf("growing assign: exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := e.op("assign", "--no-switchman", "big", "hostnew.example.com"); code != 0 {
		t.Errorf("assign --no-switchman: exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := e.op("unassign", "big", "host0000.example.com"); code != 0 {
		t.Errorf("shrinking unassign: exit %d, stderr %q", code, errOut)
	}

	// no_switchman in the local config.
	none := filepath.Join(e.dir, "none.conf")
	os.WriteFile(none, []byte(`{"zkhosts": "`+e.zkAddr+`", "prefix": "`+e.prefix+`", "no_switchman": true}`), 0o644)
	if p := e.run("operator", "-c", none, "assign", "big", "hostnew2.example.com"); p.code != 0 {
		t.Errorf("assign with no_switchman: exit %d; stderr %s", p.code, p.stderr.String())
	}
}
