package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
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
