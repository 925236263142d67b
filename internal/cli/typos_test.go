package cli

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cronguard/cronguard/config"
)

func TestNoGroupText(t *testing.T) {
	groups := []string{"batch", "reports", "web"}
	if got := noGroupText("reprots", groups, true); got != "no group reprots; did you mean reports? (--create makes a new group)" {
		t.Errorf("assign: %q", got)
	}
	if got := noGroupText("wbe", groups, false); got != "no group wbe; did you mean web?" {
		t.Errorf("unassign: %q", got)
	}
	if got := noGroupText("x", nil, false); got != "no group x (the fleet config has no groups)" {
		t.Errorf("no groups: %q", got)
	}
}

// newNearMisses: only the names the new config adds are asked about.
func TestNewNearMisses(t *testing.T) {
	cur, _ := config.ParseFleet([]byte(`{"groups": {"reports": ["box-a"], "batch": ["reprots"]}}`))
	next, _ := config.ParseFleet([]byte(`{"groups": {"reports": ["box-a"], "batch": ["reprots", "bacth"], "web": "w1"}}`))
	got := newNearMisses(cur, next)
	if len(got) != 1 || !strings.Contains(got[0], `"bacth" in group "batch"`) {
		t.Errorf("new near misses: %q", got)
	}
	if got := newNearMisses(nil, next); len(got) != 2 {
		t.Errorf("against an unreadable config: %q", got)
	}
}

func testConfigOptions(tty bool, input string) *configOptions {
	return &configOptions{g: &globalOptions{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" },
		stdin: strings.NewReader(input), isTerminal: func() bool { return tty }}}
}

// confirmNames: --force writes, a terminal is asked (y/N), no terminal
// refuses.
func TestConfirmNames(t *testing.T) {
	w := []string{"a warning"}
	refusedErr := func(err error) bool {
		var ee *exitError
		return errors.As(err, &ee) && ee.code == ExitRefused
	}
	if err := testConfigOptions(false, "").confirmNames(w); !refusedErr(err) || !strings.Contains(err.Error(), "--force") {
		t.Errorf("no terminal: %v", err)
	}
	o := testConfigOptions(false, "")
	o.force = true
	if err := o.confirmNames(w); err != nil {
		t.Errorf("--force: %v", err)
	}
	if err := testConfigOptions(true, "y\n").confirmNames(w); err != nil {
		t.Errorf("answered y: %v", err)
	}
	for _, answer := range []string{"\n", "n\n", ""} {
		if err := testConfigOptions(true, answer).confirmNames(w); !refusedErr(err) {
			t.Errorf("answered %q: %v", answer, err)
		}
	}
}

// config edit without a terminal refuses at once: before contacting
// ZooKeeper (here, an address where nothing listens), and before any
// editor.
func TestConfigEditNeedsTerminal(t *testing.T) {
	o := testConfigOptions(false, "")
	o.g.zk = "127.0.0.1:1"
	start := time.Now()
	err := o.edit(context.Background())
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != ExitRefused || !strings.Contains(err.Error(), "terminal") {
		t.Fatalf("edit without a terminal: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v", d)
	}
}

// findEditor: $VISUAL, $EDITOR, then sensible-editor, editor, vi, the
// first found in $PATH.
func TestFindEditor(t *testing.T) {
	dir1, dir2 := t.TempDir(), t.TempDir()
	exe := func(dir, name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	env := map[string]string{"PATH": dir1 + ":" + dir2}
	getenv := func(k string) string { return env[k] }
	if _, err := findEditor(getenv); err == nil || !strings.Contains(err.Error(), "$VISUAL") {
		t.Errorf("no editor at all: %v", err)
	}
	vi := exe(dir1, "vi")
	os.WriteFile(filepath.Join(dir1, "editor"), []byte("not executable"), 0o644)
	for _, tc := range []struct {
		setup func()
		want  string
	}{
		{func() {}, vi},
		{func() { exe(dir2, "editor") }, filepath.Join(dir2, "editor")},
		{func() { exe(dir2, "sensible-editor") }, filepath.Join(dir2, "sensible-editor")},
		{func() { env["EDITOR"] = "nano -w" }, "nano -w"},
		{func() { env["VISUAL"] = "code --wait" }, "code --wait"},
	} {
		tc.setup()
		if got, err := findEditor(getenv); err != nil || got != tc.want {
			t.Errorf("findEditor = %q, %v; want %q", got, err, tc.want)
		}
	}
}
