package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// pingServer is a healthchecks.io stand-in on loopback that records what
// it is sent.
type pingServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []pingReq
}

type pingReq struct {
	method, path, rid, body string
}

func newPingServer(t *testing.T, handler func(w http.ResponseWriter, r *http.Request)) *pingServer {
	s := &pingServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.reqs = append(s.reqs, pingReq{r.Method, r.URL.Path, r.URL.Query().Get("rid"), string(b)})
		s.mu.Unlock()
		if handler != nil {
			handler(w, r)
			return
		}
		io.WriteString(w, "OK")
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *pingServer) requests() []pingReq {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]pingReq(nil), s.reqs...)
}

// paths lists the requests as "METHOD PATH".
func (s *pingServer) paths() []string {
	var out []string
	for _, r := range s.requests() {
		out = append(out, r.method+" "+r.path)
	}
	return out
}

// TestE2E_PingStartAndSuccess: URL/start when the job starts, URL at its
// success, both with the same rid (a UUID); {lock} is the lock name; the
// success ping carries the held output's tail under --output failure and
// no body otherwise.
func TestE2E_PingStartAndSuccess(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(fleetAB)
	srv := newPingServer(t, nil)
	job := e.script("job", "echo hello\necho warn >&2\n")
	p := e.run("hostA", "run", "-g", "g", "--lock", "my-job", "--output", "failure", "--ping", srv.URL+"/key/{lock}?create=1", "--", job)
	if p.code != 0 || p.stdout.String() != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", p.code, p.stdout.String(), p.stderr.String())
	}
	reqs := srv.requests()
	if got := strings.Join(srv.paths(), ", "); got != "POST /key/my-job/start, POST /key/my-job" {
		t.Fatalf("requests: %s", got)
	}
	if len(reqs[0].rid) != 36 || reqs[0].rid != reqs[1].rid {
		t.Errorf("rid %q then %q: want one UUID for the run", reqs[0].rid, reqs[1].rid)
	}
	if reqs[1].body != "hello\nwarn\n" {
		t.Errorf("success body %q, want the output's tail", reqs[1].body)
	}

	srv2 := newPingServer(t, nil)
	p = e.run("hostA", "run", "-g", "g", "--ping", srv2.URL, "--", job)
	if p.code != 0 || p.stdout.String() != "hello\n" {
		t.Fatalf("--output always: exit %d, stdout %q", p.code, p.stdout.String())
	}
	reqs = srv2.requests()
	if got := strings.Join(srv2.paths(), ", "); got != "POST /start, POST /" || reqs[1].body != "" {
		t.Errorf("--output always: requests %s, success body %q; want /start, / and no body", got, reqs[1].body)
	}
}

// TestE2E_PingFailure: a failing job pings URL/<exit code> with the tail
// of its output (the last 10 000 bytes: stdout's then stderr's), and the
// exit code is the job's; a timeout pings /124.
func TestE2E_PingFailure(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(fleetAB)
	srv := newPingServer(t, nil)
	job := e.script("job", "head -c 20000 /dev/zero | tr '\\0' o\necho out-end\necho err-end >&2\nexit 3\n")
	p := e.run("hostA", "run", "-g", "g", "--output", "failure", "--ping", srv.URL+"/{lock}", "--", job)
	if p.code != 3 {
		t.Fatalf("exit %d, want 3; stderr %q", p.code, p.stderr.String())
	}
	reqs := srv.requests()
	if got := strings.Join(srv.paths(), ", "); got != "POST /job/start, POST /job/3" {
		t.Fatalf("requests: %s", got)
	}
	body := reqs[1].body
	if len(body) != 10000 || !strings.HasSuffix(body, "ooout-end\nerr-end\n") {
		t.Errorf("fail body: %d bytes ending %q; want 10000 ending with both streams' last lines", len(body), body[max(0, len(body)-30):])
	}

	slow := e.script("slow", "exec sleep 30\n")
	p = e.run("hostA", "run", "-g", "g", "--timeout", "200ms", "--ping", srv.URL+"/{lock}", "--", slow)
	if p.code != 124 {
		t.Fatalf("timeout: exit %d", p.code)
	}
	if got := strings.Join(srv.paths()[2:], ", "); got != "POST /slow/start, POST /slow/124" {
		t.Errorf("timeout: requests %s", got)
	}
}

// TestE2E_PingSkippedRunSendsNothing: a host that is not eligible, and a
// run that finds the lock busy, ping nothing: one check covers the group.
func TestE2E_PingSkippedRunSendsNothing(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(fleetAB)
	srv := newPingServer(t, nil)
	release := filepath.Join(e.dir, "release")
	job := e.script("job", "while [ ! -e "+release+" ]; do sleep 0.01; done\n")
	if p := e.run("hostB", "run", "-g", "g", "--ping", srv.URL, "--", job); p.code != 0 {
		t.Fatalf("ineligible: exit %d", p.code)
	}
	if n := len(srv.requests()); n != 0 {
		t.Fatalf("an ineligible host pinged: %v", srv.paths())
	}
	holder := e.start("hostA", "run", "-g", "both", "--ping", srv.URL, "--", job)
	deadline := time.Now().Add(10 * time.Second)
	for len(srv.requests()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if p := e.run("hostB", "run", "-g", "both", "--ping", srv.URL, "--", job); p.code != 0 {
		t.Fatalf("lock busy: exit %d", p.code)
	}
	os.WriteFile(release, nil, 0o644)
	if code := holder.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("holder: exit %d", code)
	}
	if got := strings.Join(srv.paths(), ", "); got != "POST /start, POST /" {
		t.Errorf("requests %s: want only the holder's start and success", got)
	}
}

// TestE2E_PingHungServer: a server that accepts and never answers holds
// the run's end for at most the ping bound (5 s), and the exit code is
// the job's.
func TestE2E_PingHungServer(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(fleetAB)
	hang := make(chan struct{})
	srv := newPingServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(hang) })
	endFile := filepath.Join(e.dir, "end")
	job := e.script("job", "date +%s%N > "+endFile+"\nexit 2\n")
	p := e.run("hostA", "run", "-g", "g", "--ping", srv.URL, "--", job)
	exited := time.Now()
	if p.code != 2 {
		t.Fatalf("exit %d, want the job's 2", p.code)
	}
	endNs := int64(atoi(t, waitFile(t, endFile, time.Second)))
	delay := exited.Sub(time.Unix(0, endNs))
	t.Logf("the job's end to cronguard's exit: %v; requests %v", delay, srv.paths())
	if delay > 6500*time.Millisecond {
		t.Errorf("a hung ping server held the end %v, want at most ~5s", delay)
	}
	if len(p.events("ping_failed")) == 0 {
		t.Errorf("no ping_failed event logged:\n%s", p.logText())
	}
}

// TestE2E_PingServerDown: nothing listens at ping_url (the config key,
// with {lock}): the exit codes are the job's, each run warns, and
// cronguard_ping_failures_total counts the pings given up (start and end).
func TestE2E_PingServerDown(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(fleetAB)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, _, metricsDir := e.recordConfig("unused.json", e.zkAddr, 10*time.Second)
	cfg := filepath.Join(e.dir, "cfg.json")
	body := fmt.Sprintf(`{"zkhosts": %q, "prefix": %q, "metrics_dir": %q, "ping_url": "http://%s/ping/{lock}"}`,
		e.zkAddr, e.prefix, metricsDir, addr)
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	ok := e.script("ok", "true\n")
	bad := e.script("bad", "exit 4\n")
	for _, tc := range []struct {
		job  string
		want int
	}{{ok, 0}, {bad, 4}, {ok, 0}} {
		start := time.Now()
		p := e.run("hostA", "--config", cfg, "run", "-g", "g", "--lock", "downjob", "--", tc.job)
		if p.code != tc.want {
			t.Fatalf("%s: exit %d, want %d; stderr %q", tc.job, p.code, tc.want, p.stderr.String())
		}
		if d := time.Since(start); d > 6*time.Second {
			t.Errorf("a refused ping took %v", d)
		}
		if len(p.events("ping_failed")) != 2 {
			t.Errorf("want 2 ping_failed events (start, end):\n%s", p.logText())
		}
	}
	prom, _ := os.ReadFile(filepath.Join(metricsDir, "cronguard_downjob.prom"))
	if !strings.Contains(string(prom), `cronguard_ping_failures_total{lock="downjob",group="g"} 6`) {
		t.Errorf("metrics:\n%s", prom)
	}
	// --no-ping: the config's ping_url is not used.
	p := e.run("hostA", "--config", cfg, "run", "-g", "g", "--lock", "downjob", "--no-ping", "--", ok)
	if p.code != 0 || len(p.events("ping_failed")) != 0 {
		t.Errorf("--no-ping: exit %d, log:\n%s", p.code, p.logText())
	}
}
