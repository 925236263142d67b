package cli

import (
	"io"
	"slices"
	"testing"
)

func TestSwitchmanForm(t *testing.T) {
	root := newRootCmd(io.Discard, io.Discard)
	for _, tc := range []struct{ in, want []string }{
		{[]string{"-g", "grp", "--", "cmd"}, []string{"run", "-g", "grp", "--", "cmd"}},
		{[]string{"-c", "/etc/switchman.conf", "-g", "grp", "--lockname", "x", "--", "cmd", "-v"},
			[]string{"run", "-c", "/etc/switchman.conf", "-g", "grp", "--lockname", "x", "--", "cmd", "-v"}},
		{[]string{"--zk", "h:1", "run", "-g", "g", "--", "cmd"}, []string{"--zk", "h:1", "run", "-g", "g", "--", "cmd"}},
		{[]string{"-g", "status", "--", "cmd"}, []string{"run", "-g", "status", "--", "cmd"}},
		{[]string{"--no-lock", "--", "cmd"}, []string{"run", "--no-lock", "--", "cmd"}},
		{[]string{"--group=run", "--", "cmd"}, []string{"run", "--group=run", "--", "cmd"}},
		{[]string{"config", "get"}, []string{"config", "get"}},
		{[]string{"--help"}, []string{"--help"}},
		{nil, nil},
	} {
		got := switchmanForm(tc.in, root.commandNames(), root.takesValue)
		if !slices.Equal(got, tc.want) {
			t.Errorf("switchmanForm(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
