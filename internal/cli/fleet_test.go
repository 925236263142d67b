package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/cronguard/cronguard/config"
	"github.com/cronguard/cronguard/internal/zktest"
)

// A change made between an operator command's read and its write is
// detected and reported, never overwritten.
func TestIntegration_ConcurrentWriteIsRefused(t *testing.T) {
	srv := zktest.StartServer(t)
	other, _, err := zk.Connect([]string{srv.Addr()}, 5*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Create("/fleet", []byte(`{"groups": {"g": "a"}}`), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	g := &globalOptions{zk: srv.Addr(), prefix: "/fleet", stdout: io.Discard, stderr: io.Discard,
		getenv: func(string) string { return "" }}
	a, err := g.dialAdmin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	old, version, err := a.readFleet()
	if err != nil {
		t.Fatal(err)
	}
	next, _ := config.ParseFleet(old)
	next.Groups["g"] = append(next.Groups["g"], "b")

	concurrent := []byte(`{"groups": {"g": "c"}}`)
	if _, err := other.Set("/fleet", concurrent, -1); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = a.writeFleet(&out, old, version, next, false)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != ExitRefused {
		t.Fatalf("write after a concurrent change: %v, want refused", err)
	}
	if got, _, _ := other.Get("/fleet"); !bytes.Equal(got, concurrent) {
		t.Fatalf("the concurrent change was overwritten: %s", got)
	}
}

func TestHostWarnings(t *testing.T) {
	fleet, err := config.ParseFleet([]byte(`{"groups": {"reports": ["box-a", "repotrs"], "batch": ["box-a", "ghost.example.com", "short"], "web": "reportss"}}`))
	if err != nil {
		t.Fatal(err)
	}
	resolvable := map[string]bool{"box-a": true, "repotrs": true, "reportss": true}
	lookup := func(_ context.Context, h string) ([]string, error) {
		if resolvable[h] {
			return []string{"192.0.2.1"}, nil
		}
		return nil, errors.New("no such host")
	}
	got := hostWarnings(context.Background(), fleet, lookup)
	want := []string{
		`host "ghost.example.com" (group "batch") does not resolve; fine if it is a --hostname identity, else a typo`,
		`"repotrs" in group "reports" is a host, but looks like group "reports" misspelt`,
		`"reportss" in group "web" is a host, but looks like group "reports" misspelt`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestOneEditApart(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"reports", "reports", false}, {"reports", "reprots", true}, {"reports", "report", true},
		{"reports", "xreports", true}, {"reports", "reporxs", true}, {"reports", "rexorxs", false},
		{"ab", "ba", true}, {"abc", "cab", false}, {"", "a", true},
	} {
		if got := oneEditApart(tc.a, tc.b); got != tc.want {
			t.Errorf("oneEditApart(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}
