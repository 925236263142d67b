package cli

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/cronguard/cronguard/lock"
)

// --kill-grace's help states its default once (pflag added "(default 0s)").
func TestKillGraceHelpDefaultOnce(t *testing.T) {
	_, out, _ := runCronguard(t, "run", "--help")
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "--kill-grace") {
			if n := strings.Count(line, "default"); n != 1 || !strings.Contains(line, "termination_timeout, 10s") {
				t.Errorf("--kill-grace help: %q", line)
			}
			return
		}
	}
	t.Fatalf("no --kill-grace in run --help:\n%s", out)
}

// --dry-run exists exactly on the commands that write the fleet config.
func TestDryRunOnlyOnWriters(t *testing.T) {
	writers := map[string]bool{"cronguard config init": true, "cronguard config set": true, "cronguard config edit": true,
		"cronguard assign": true, "cronguard unassign": true}
	root := newRootCmd(&bytes.Buffer{}, &bytes.Buffer{})
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		has := c.Flags().Lookup("dry-run") != nil
		if has != writers[c.CommandPath()] {
			t.Errorf("%s: --dry-run %v", c.CommandPath(), has)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root.Command)
	if code, _, errOut := runCronguard(t, "config", "get", "--dry-run"); code != ExitOwnFailure || !strings.Contains(errOut, "unknown flag: --dry-run") {
		t.Errorf("config get --dry-run: %d %q", code, errOut)
	}
}

// The lock node's command is quoted as a shell would, so status shows a
// command line that splits back into the job's arguments.
func TestStatusCommandQuoted(t *testing.T) {
	e := &runEnv{o: &runOptions{command: []string{"/usr/bin/report", "--title", "Q3 sales", "it's", ""}}, st: &settings{hostname: "box-a"}}
	h := parseHolder("report", e.lockData(), &zk.Stat{})
	want := `/usr/bin/report --title 'Q3 sales' 'it'\''s' ''`
	if h.Command != want {
		t.Errorf("command %s, want %s", h.Command, want)
	}
	var buf bytes.Buffer
	renderStatus(&buf, &statusSnapshot{Locks: []heldLock{h}}, time.Now())
	if !strings.Contains(buf.String(), want) {
		t.Errorf("status:\n%s", buf.String())
	}
}

// gen to stdout starts each package's file with a header line when there
// are several (one is the file as it is: TestGenDebianAndStdout).
func TestGenStdoutSeparatesPackages(t *testing.T) {
	src := t.TempDir()
	writeScript(t, src, "report.sh", reportScript)
	writeScript(t, src, "perl/cleanup.pl", cleanupScript)
	code, out, errOut := runCronguard(t, "gen", src)
	if code != 0 {
		t.Fatalf("gen: %d %s", code, errOut)
	}
	var headers []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "# ==> package ") {
			headers = append(headers, line)
		}
	}
	if len(headers) != 2 || !strings.HasPrefix(out, "# ==> package ") || !strings.Contains(out, "\n\n# ==> package ") {
		t.Errorf("gen to stdout, headers %q:\n%s", headers, out)
	}
}

// The package prefix of sentinel errors is not shown to users, wherever it
// is in the wrapped message; the Go error keeps it (errors.Is works).
func TestUserTextStripsPackagePrefix(t *testing.T) {
	err := fmt.Errorf("--lock: %w", lock.ValidateName("a/b"))
	if !errors.Is(err, lock.ErrInvalidName) {
		t.Fatal("the sentinel is lost")
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{err, `--lock: invalid lock name "a/b": must not contain '/'`},
		{lock.ErrBusy, "busy"},
		{refused("history: %v", lock.ValidateName("")), "history: invalid lock name: empty"},
		{errors.New("fleet config: line 1"), "fleet config: line 1"},
		{errors.New("--lease: empty value"), "--lease: empty value"},
	} {
		var buf bytes.Buffer
		mapError(tc.err, &buf)
		if got := strings.TrimSuffix(buf.String(), "\n"); got != "cronguard: "+tc.want {
			t.Errorf("%v: %q, want %q", tc.err, got, "cronguard: "+tc.want)
		}
	}
}

// A skip event's holder is an object when the lock holds cronguard's JSON,
// a string when it holds switchman's "host pid".
func TestHolderField(t *testing.T) {
	var buf bytes.Buffer
	log := zerolog.New(&buf)
	holderField(log.Info(), []byte(`{"host":"box-a","pid":42}`)).Msg("")
	holderField(log.Info(), []byte(`old.example.com 4242`)).Msg("")
	want := "{\"level\":\"info\",\"holder\":{\"host\":\"box-a\",\"pid\":42}}\n{\"level\":\"info\",\"holder\":\"old.example.com 4242\"}\n"
	if buf.String() != want {
		t.Errorf("got %s want %s", buf.String(), want)
	}
}
