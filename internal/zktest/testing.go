package zktest

import (
	"context"
	"os"
	"testing"
	"time"
)

// SkipUnlessAvailable skips the test when ZooKeeper cannot be started here
// (see Available), so `go test ./...` stays green on machines without Java.
// With CRONGUARD_REQUIRE_ZK=1 (set in CI) it fails instead, so integration
// tests cannot silently stop running.
func SkipUnlessAvailable(t testing.TB) {
	t.Helper()
	if err := Available(); err != nil {
		if os.Getenv("CRONGUARD_REQUIRE_ZK") == "1" {
			t.Fatalf("ZooKeeper required (CRONGUARD_REQUIRE_ZK=1) but unavailable: %v", err)
		}
		t.Skipf("ZooKeeper unavailable (set CRONGUARD_REQUIRE_ZK=1 to fail instead): %v", err)
	}
}

// StartServer is Start for tests: it skips or fails per SkipUnlessAvailable,
// fails the test if the server does not start, logs lifecycle events with
// t.Logf, and closes the server in t.Cleanup (logging the tail of its log
// first if the test failed).
func StartServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	SkipUnlessAvailable(t)
	s, err := Start(testContext(t), append([]Option{WithLogf(t.Logf)}, opts...)...)
	if err != nil {
		t.Fatalf("starting ZooKeeper: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%v log tail (test failed):\n%s", s, s.logTailBlock())
		}
		if err := s.Close(); err != nil {
			t.Logf("closing %v: %v", s, err)
		}
	})
	return s
}

// StartTestEnsemble is StartEnsemble for tests, with the same skip/fail,
// logging and cleanup behaviour as StartServer.
func StartTestEnsemble(t testing.TB, n int, opts ...Option) *Ensemble {
	t.Helper()
	SkipUnlessAvailable(t)
	e, err := StartEnsemble(testContext(t), n, append([]Option{WithLogf(t.Logf)}, opts...)...)
	if err != nil {
		t.Fatalf("starting %d-server ZooKeeper ensemble: %v", n, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, s := range e.servers {
				t.Logf("%v log tail (test failed):\n%s", s, s.logTailBlock())
			}
		}
		if err := e.Close(); err != nil {
			t.Logf("closing ensemble: %v", err)
		}
	})
	return e
}

// testContext bounds start-up by the test binary's -timeout, when known.
func testContext(t testing.TB) context.Context {
	if d, ok := t.(interface {
		Deadline() (deadline time.Time, ok bool)
	}); ok {
		if dl, ok := d.Deadline(); ok {
			ctx, cancel := context.WithDeadline(context.Background(), dl)
			t.Cleanup(cancel)
			return ctx
		}
	}
	return context.Background()
}
