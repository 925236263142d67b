package lock

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/rs/zerolog"

	"github.com/cronguard/cronguard/internal/zktest"
	"github.com/cronguard/cronguard/session"
)

func TestValidateName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"backup.sh", true},
		{"job-1_x", true},
		{"", false},
		{"a/b", false},
		{".", false},
		{"..", false},
		{"zookeeper", false},
		{"with space", false},
		{"tab\t", false},
		{"nul\x00", false},
		{"bad\xffutf8", false},
		{strings.Repeat("x", MaxNameLen), true},
		{strings.Repeat("x", MaxNameLen+1), false},
	} {
		err := ValidateName(tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidName) {
			t.Errorf("ValidateName(%q) error %v is not ErrInvalidName", tc.name, err)
		}
	}
}

func dialT(t *testing.T, addr string, opts ...session.Option) *session.Session {
	t.Helper()
	opts = append([]session.Option{session.WithConnectTimeout(5 * time.Second), session.WithLogger(zerolog.New(zerolog.NewTestWriter(t)))}, opts...)
	s, err := session.Dial(context.Background(), []string{addr}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func mustCreate(t *testing.T, s *session.Session, p string) {
	t.Helper()
	if _, err := s.Conn().Create(p, []byte(`{}`), 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		t.Fatal(err)
	}
}

func TestIntegration_AcquireBusyRelease(t *testing.T) {
	srv := zktest.StartServer(t)
	a := dialT(t, srv.Addr())
	b := dialT(t, srv.Addr())
	mustCreate(t, a, "/p")
	ctx := context.Background()
	la, err := Acquire(ctx, a, "/p/locks/job", []byte("a"))
	if err != nil {
		t.Fatal(err)
	}
	var holder []byte
	if _, err := Acquire(ctx, b, "/p/locks/job", []byte("b"), WithOnBusy(func(h []byte) { holder = h })); !errors.Is(err, ErrBusy) {
		t.Fatalf("second Acquire: %v, want ErrBusy", err)
	}
	if string(holder) != "a" {
		t.Errorf("holder = %q", holder)
	}
	if err := la.Release(); err != nil {
		t.Fatal(err)
	}
	lb, err := Acquire(ctx, b, "/p/locks/job", []byte("b"))
	if err != nil {
		t.Fatalf("Acquire after release: %v", err)
	}
	if lb.Token() <= la.Token() {
		t.Errorf("fencing token did not grow: %d then %d", la.Token(), lb.Token())
	}
}

func TestIntegration_AcquireMissingPrefix(t *testing.T) {
	srv := zktest.StartServer(t)
	s := dialT(t, srv.Addr())
	_, err := Acquire(context.Background(), s, "/absent/locks/job", nil)
	if err == nil || !strings.Contains(err.Error(), "/absent") {
		t.Fatalf("err = %v, want one naming the missing prefix", err)
	}
	if ok, _, _ := s.Conn().Exists("/absent"); ok {
		t.Fatal("Acquire created the prefix")
	}
}

func TestIntegration_LockNodeDeletedOrStolen(t *testing.T) {
	srv := zktest.StartServer(t)
	a := dialT(t, srv.Addr())
	other := dialT(t, srv.Addr())
	mustCreate(t, a, "/p")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	l, err := Acquire(ctx, a, "/p/locks/job", nil)
	if err != nil {
		t.Fatal(err)
	}
	l.Watch(ctx)
	if _, err := other.Conn().Set(l.Path(), []byte("x"), -1); err != nil {
		t.Fatal(err)
	}
	if loss := lockLoss(t, l, 5*time.Second); loss.Reason != session.ReasonLockLost || loss.Now {
		t.Fatalf("data change: %+v, want a graceful lock_lost", loss)
	}

	l2, err := Acquire(ctx, a, "/p/locks/job2", nil)
	if err != nil {
		t.Fatal(err)
	}
	l2.Watch(ctx)
	if err := other.Conn().Delete(l2.Path(), -1); err != nil {
		t.Fatal(err)
	}
	if loss := lockLoss(t, l2, 5*time.Second); loss.Reason != session.ReasonLockLost || !loss.Now {
		t.Fatalf("deletion: %+v, want lock_lost at once", loss)
	}
}

func TestIntegration_ProbeSeesForeignOwner(t *testing.T) {
	srv := zktest.StartServer(t)
	a := dialT(t, srv.Addr())
	other := dialT(t, srv.Addr())
	mustCreate(t, a, "/p")
	l, err := Acquire(context.Background(), a, "/p/locks/job", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !l.Probe() {
		t.Fatal("probe of a healthy lock not answered")
	}
	if err := l.Err(); err != nil {
		t.Fatalf("healthy probe raised %v", err)
	}
	other.Conn().Delete(l.Path(), -1)
	if _, err := other.Conn().Create(l.Path(), nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	l.Probe()
	if loss := lockLoss(t, l, time.Second); !loss.Now || loss.Reason != session.ReasonLockLost {
		t.Fatalf("%+v, want lock_lost at once", loss)
	}
}

func lockLoss(t *testing.T, l *Lock, d time.Duration) *session.Loss {
	t.Helper()
	select {
	case <-l.Lost():
		return l.Err().(*session.Loss)
	case <-time.After(d):
		t.Fatalf("no loss within %v", d)
		return nil
	}
}

// Taking the lock while ZooKeeper does not answer is bounded by ctx (the
// run gives it connect_timeout + T) and reports the outage, not a busy lock.
func TestIntegration_AcquireBoundedInPartition(t *testing.T) {
	srv := zktest.StartServer(t)
	px, err := zktest.NewProxy(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	s := dialT(t, px.Addr(), session.WithSessionTimeout(4*time.Second))
	mustCreate(t, s, "/p")
	px.Blackhole()
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = Acquire(ctx, s, "/p/locks/job", nil)
	if !errors.Is(err, session.ErrUnreachable) {
		t.Fatalf("err = %v, want session.ErrUnreachable", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("Acquire took %v with a 1.5s bound", el)
	}
}
