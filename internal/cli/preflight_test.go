package cli

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPreflightFixtureCronD(t *testing.T) {
	dir := filepath.Join("testdata", "preflight", "cron.d")
	got := preflightFile(filepath.Join(dir, "batch"), "box1.example.com")
	want := []string{
		dir + "/batch:5: lease \"mem=5:4\" is refused",
		dir + "/batch:6: cronguard refuses \"-g batch --bogus-flag -- /usr/local/bin/x\"",
		dir + "/batch:7: cronguard refuses",
	}
	if len(got) != len(want) {
		t.Fatalf("findings:\n%s\nwant %d", strings.Join(got, "\n"), len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("finding %d = %q, want prefix %q", i, got[i], want[i])
		}
	}
}

func TestPreflightCommandExit(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "c.json")
	if err := os.WriteFile(cfg, []byte(`{"zkhosts": "127.0.0.1:1", "prefix": "/x", "connect_timeout": 1, "state_dir": "`+t.TempDir()+`"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	root := newRootCmd(&out, &out)
	root.SetArgs([]string{"--zk", "127.0.0.1:1", "--prefix", "/x", "--config", cfg,
		"preflight", "--cron-dir", filepath.Join("testdata", "preflight", "cron.d"), "--system-crontab", filepath.Join(t.TempDir(), "absent")})
	err := root.Execute()
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("preflight on the fixture: %v, want exit 1\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "batch:5: lease") {
		t.Errorf("output lacks the lease finding:\n%s", out.String())
	}
	out.Reset()
	root = newRootCmd(&out, &out)
	root.SetArgs([]string{"--zk", "127.0.0.1:1", "--prefix", "/x", "--config", cfg,
		"preflight", "--cron-dir", t.TempDir(), "--system-crontab", filepath.Join(t.TempDir(), "absent")})
	if err := root.Execute(); err != nil {
		// Only the identity may differ here, when this machine's
		// Net::Domain finds no name and cronguard uses the hostname.
		if !strings.HasPrefix(out.String(), "identity:") {
			t.Fatalf("empty cron.d: %v\n%s", err, out.String())
		}
	}
}

// Locks that differ: switchman's lock (Perl: lockname ||= basename of the
// command word) against the one cronguard takes for the same line.
func TestPreflightLocksDiffer(t *testing.T) {
	dir := filepath.Join("testdata", "preflight", "cron.d")
	got := preflightFile(filepath.Join(dir, "locks"), "box1.example.com")
	want := []string{
		dir + `/locks:3: lock differs for "-g batch --lockname 0 -- /usr/local/bin/zero": switchman takes lock "zero", cronguard "0"`,
	}
	if len(got) != len(want) {
		t.Fatalf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("finding %d = %q, want prefix %q", i, got[i], want[i])
		}
	}
}

func TestSwitchmanLock(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		lock   string
		noLock bool
		ok     bool
	}{
		{[]string{"-g", "g", "--", "/bin/job", "x"}, "job", false, true},
		{[]string{"-g", "g", "--lockname", "n", "/bin/job"}, "n", false, true},
		{[]string{"-g", "g", "--lockname=", "/bin/job"}, "job", false, true},
		{[]string{"-g", "g", "--lockname", "0", "/bin/job"}, "job", false, true},
		{[]string{"-lockn=n", "/bin/job", "-g", "g"}, "n", false, true},
		{[]string{"-g", "g", "--no", "/bin/job"}, "job", true, true},
		{[]string{"-g", "g", "--", "/usr/bin/"}, "bin", false, true},
		{[]string{"-g", "g", "--bogus", "/bin/job"}, "", false, false},
		{[]string{"-g", "g"}, "", false, false},
	} {
		lock, noLock, ok := switchmanLock(tc.args)
		if lock != tc.lock || noLock != tc.noLock || ok != tc.ok {
			t.Errorf("%q: %q %v %v, want %q %v %v", tc.args, lock, noLock, ok, tc.lock, tc.noLock, tc.ok)
		}
	}
}
