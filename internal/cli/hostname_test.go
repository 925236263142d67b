package cli

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCanonicalFromHosts(t *testing.T) {
	hosts := filepath.Join(t.TempDir(), "hosts")
	os.WriteFile(hosts, []byte(`127.0.0.1 localhost
# 10.0.0.9 box1.commented.example box1
10.0.0.1 box1x.example.com box1x
10.0.0.2 box1.example.com box1 # the host itself
10.0.0.3 alias box2 box2.example.org
`), 0o644)
	for _, tc := range []struct{ host, want string }{
		{"box1", "box1.example.com"},
		{"box2", "box2.example.org"},
		{"box3", ""},
		{"localhost", ""},
	} {
		if got := canonicalFromHosts(hosts, tc.host); got != tc.want {
			t.Errorf("canonicalFromHosts(%q) = %q, want %q", tc.host, got, tc.want)
		}
	}
	if got := canonicalFromHosts(filepath.Join(t.TempDir(), "absent"), "box1"); got != "" {
		t.Errorf("missing file: %q", got)
	}
}
