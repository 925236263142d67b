package cli

import (
	"io"
	"maps"
	"slices"
	"testing"
)

func TestSwitchmanForm(t *testing.T) {
	root := newRootCmd(io.Discard, io.Discard)
	for _, tc := range []struct{ in, want []string }{
		{[]string{"-g", "grp", "--", "cmd"}, []string{"run", "--group=grp", "--", "cmd"}},
		{[]string{"-c", "/etc/switchman.conf", "-g", "grp", "--lockname", "x", "--", "cmd", "-v"},
			[]string{"run", "--config=/etc/switchman.conf", "--group=grp", "--lockname=x", "--", "cmd", "-v"}},
		{[]string{"--zk", "h:1", "run", "-g", "g", "--", "cmd"}, []string{"--zk", "h:1", "run", "-g", "g", "--", "cmd"}},
		{[]string{"-g", "status", "--", "cmd"}, []string{"run", "--group=status", "--", "cmd"}},
		{[]string{"--no-lock", "--", "cmd"}, []string{"run", "--no-lock=true", "--", "cmd"}},
		{[]string{"--group=run", "--", "cmd"}, []string{"run", "--group=run", "--", "cmd"}},
		{[]string{"config", "get"}, []string{"config", "get"}},
		{[]string{"--help"}, []string{"--help"}},
		{nil, nil},
	} {
		got, err := switchmanForm(tc.in, root.commandNames(), root.runFlag)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("switchmanForm(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestCommandWords: the words Main gives switchman's form without building
// the tree are the tree's command names.
func TestCommandWords(t *testing.T) {
	got := newRootCmd(io.Discard, io.Discard).commandNames()
	if !maps.Equal(got, commandWords) {
		t.Fatalf("commandWords = %v, the tree's names are %v", commandWords, got)
	}
}
