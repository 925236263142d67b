package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// TestEmptyFlagValues: a string flag given an explicit empty value is an
// error (exit 125, one line naming the flag), never read as absent; the
// command does not run. `run -g ""` used to run on every host.
func TestEmptyFlagValues(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "config.json")
	if err := os.WriteFile(conf, []byte(`{"zkhosts": "127.0.0.1:1", "prefix": "/cg"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	ran := filepath.Join(dir, "ran")
	job := []string{"--", "touch", ran}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"run -g, real", append([]string{"run", "--config", conf, "--no-lock", "-g", ""}, job...), "cronguard: --group: empty value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			code, stdout, stderr := runCronguard(t, tc.args...)
			if code != ExitOwnFailure || stderr != tc.want+"\n" || stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 125 and %q", code, stdout, stderr, tc.want)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %s: ZooKeeper was dialled", d)
			}
			if _, err := os.Stat(ran); err == nil {
				t.Fatalf("the command ran")
			}
		})
	}
	// Through the command tree, with every command's RunE replaced by a
	// recorder: the refusal comes before any command runs.
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"run -g", append([]string{"run", "--config", conf, "--no-lock", "-g", ""}, job...), "cronguard: --group: empty value"},
		{"run --group=", append([]string{"run", "--config", conf, "--no-lock", "--group="}, job...), "cronguard: --group: empty value"},
		{"run --lock", append([]string{"run", "--config", conf, "--no-lock", "--lock", ""}, job...), "cronguard: --lock: empty value"},
		{"run --lockname", append([]string{"run", "--config", conf, "--no-lock", "--lockname", ""}, job...), "cronguard: --lockname: empty value"},
		{"run --lease", append([]string{"run", "--config", conf, "--no-lock", "--lease", ""}, job...), "cronguard: --lease: empty value"},
		{"global --zk", append([]string{"--zk", "", "run", "--config", conf, "--no-lock"}, job...), "cronguard: --zk: empty value"},
		{"global --log-file", append([]string{"run", "--log-file", "", "--config", conf, "--no-lock"}, job...), "cronguard: --log-file: empty value"},
		{"global -c", append([]string{"run", "-c", "", "--no-lock"}, job...), "cronguard: --config: empty value"},
		{"status --group", []string{"status", "--config", conf, "--group", ""}, "cronguard: --group: empty value"},
		{"gen --out", []string{"gen", "--out", "", dir}, "cronguard: --out: empty value"},
		{"package --depends", []string{"package", "--depends", "", dir}, "cronguard: --depends: empty value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			root := newRootCmd(&stdout, &stderr)
			var ran []string
			var record func(c *cobra.Command)
			record = func(c *cobra.Command) {
				if c.RunE != nil {
					name := c.CommandPath()
					c.RunE = func(*cobra.Command, []string) error { ran = append(ran, name); return nil }
				}
				for _, sub := range c.Commands() {
					record(sub)
				}
			}
			record(root.Command)
			root.SetArgs(tc.args)
			code := mapError(root.Execute(), &stderr)
			if code != ExitOwnFailure || stderr.String() != tc.want+"\n" || stdout.String() != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 125 and %q", code, stdout.String(), stderr.String(), tc.want)
			}
			if len(ran) > 0 {
				t.Errorf("%v ran", ran)
			}
		})
	}
}

// TestEmptyMailtoAllowed: --mailto "" means "no mail", as documented.
func TestEmptyMailtoAllowed(t *testing.T) {
	src := t.TempDir()
	writeScript(t, src, "job.sh", "#!/bin/sh\n# <crontab>\n#   package: p\n#   time: @daily\n# </crontab>\n")
	code, stdout, stderr := runCronguard(t, "gen", "--mailto", "", src)
	if code != 0 || !strings.Contains(stdout, "MAILTO=\"\"\n") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}
