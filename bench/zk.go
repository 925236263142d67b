package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/cronguard/cronguard/internal/zktest"
)

// zkOptions are the servers' settings: ZooKeeper's default tickTime (2 s,
// so the 30 s session timeout cronguard asks for is granted as is) and the
// JVM's full JIT rather than zktest's start-up-friendly C1-only default, as
// a production server runs.
func zkOptions() []zktest.Option {
	return []zktest.Option{
		zktest.WithTickTime(2 * time.Second),
		zktest.WithJVMArgs("-XX:TieredStopAtLevel=4", "-Xmx512m"),
	}
}

// servers are the ZooKeepers of one bench run.
type servers struct {
	main *zktest.Server   // timing and stop latency
	load *zktest.Server   // dedicated: requests per run, concurrency
	ens  *zktest.Ensemble // 3-node ensemble
}

func startServers(ctx context.Context, withEnsemble bool) (*servers, error) {
	s := &servers{}
	type res struct {
		which string
		srv   *zktest.Server
		ens   *zktest.Ensemble
		err   error
	}
	ch := make(chan res, 3)
	n := 2
	go func() { srv, err := zktest.Start(ctx, zkOptions()...); ch <- res{"main", srv, nil, err} }()
	go func() { srv, err := zktest.Start(ctx, zkOptions()...); ch <- res{"load", srv, nil, err} }()
	if withEnsemble {
		n++
		go func() { e, err := zktest.StartEnsemble(ctx, 3, zkOptions()...); ch <- res{"ensemble", nil, e, err} }()
	}
	var errs []error
	for range n {
		r := <-ch
		if r.err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.which, r.err))
			continue
		}
		switch r.which {
		case "main":
			s.main = r.srv
		case "load":
			s.load = r.srv
		case "ensemble":
			s.ens = r.ens
		}
	}
	if len(errs) > 0 {
		s.close()
		return nil, errors.Join(errs...)
	}
	return s, nil
}

func (s *servers) close() {
	if s.main != nil {
		s.main.Close()
	}
	if s.load != nil {
		s.load.Close()
	}
	if s.ens != nil {
		s.ens.Close()
	}
}

// fourLetters counts the four-letter commands sent to each server: ZooKeeper
// counts each as one packet received, which the request counts subtract.
var fourLetters = struct {
	sync.Mutex
	n map[string]int
}{n: map[string]int{}}

func fourLetterCount(addr string) int {
	fourLetters.Lock()
	defer fourLetters.Unlock()
	return fourLetters.n[addr]
}

// mntr returns the numeric counters of a server's mntr output.
func mntr(addr string) (map[string]float64, error) {
	out, err := zktestFourLetter(addr, "mntr")
	if err != nil {
		return nil, err
	}
	m := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "\t")
		if !ok {
			continue
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
			m[k] = f
		}
	}
	if _, ok := m["zk_packets_received"]; !ok {
		return nil, fmt.Errorf("mntr on %s: no zk_packets_received in %q", addr, out)
	}
	return m, nil
}

// packets sums zk_packets_received (client requests, pings included) over
// the given servers. Each call itself adds one packet per server; use
// packetCounter to count only the clients'.
func packets(addrs ...string) (float64, error) {
	var sum float64
	for _, a := range addrs {
		m, err := mntr(a)
		if err != nil {
			return 0, err
		}
		sum += m["zk_packets_received"]
	}
	return sum, nil
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}

// dial opens the harness's own session and waits for it.
func dial(addrs []string) (*zk.Conn, error) {
	conn, ev, err := zk.Connect(addrs, 30*time.Second, zk.WithLogInfo(false), zk.WithLogger(nopLogger{}))
	if err != nil {
		return nil, err
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-ev:
			if e.State == zk.StateHasSession {
				go func() {
					for range ev {
					}
				}()
				return conn, nil
			}
		case <-deadline:
			conn.Close()
			return nil, fmt.Errorf("no ZooKeeper session with %v", addrs)
		}
	}
}

func fleetJSON(hosts ...string) []byte {
	b, _ := json.Marshal(map[string]any{"groups": map[string]any{"g": hosts}})
	return b
}

// setupPrefix creates prefix with the fleet config {"groups":{"g":["h1"]}}
// through cronguard's own operator commands, as an operator would.
func setupPrefix(cronguard, zkAddrs, prefix string) error {
	for _, args := range [][]string{{"config", "init"}, {"assign", "--create", "g", "h1"}} {
		argv := append([]string{"--zk", zkAddrs, "--prefix", prefix}, args...)
		out, err := exec.Command(cronguard, argv...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("cronguard %s: %v\n%s", strings.Join(argv, " "), err, out)
		}
	}
	return nil
}

// writeConfig writes a cronguard local config file, as /etc/cronguard/config.json.
func writeConfig(dir, name, zkAddrs, prefix string) (string, error) {
	p := filepath.Join(dir, name)
	b, _ := json.MarshalIndent(map[string]any{
		"zkhosts":  zkAddrs,
		"prefix":   prefix,
		"logfile":  filepath.Join(dir, name+".log"),
		"loglevel": "info",
	}, "", "  ")
	return p, os.WriteFile(p, b, 0o644)
}

func zktestFourLetter(addr, cmd string) (string, error) {
	fourLetters.Lock()
	fourLetters.n[addr]++
	fourLetters.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return zktest.FourLetter(ctx, addr, cmd)
}

// holdLock creates the ephemeral lock node p (and its persistent parent),
// as another host holding the lock would.
func holdLock(conn *zk.Conn, p string) error {
	parent := path.Dir(p)
	if _, err := conn.Create(parent, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return fmt.Errorf("creating %s: %w", parent, err)
	}
	if _, err := conn.Create(p, []byte(`{"host":"bench"}`), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		return fmt.Errorf("holding the lock %s: %w", p, err)
	}
	return nil
}

// packetCounter counts the packets clients send to a server between start
// and stop, without the four-letter commands the harness sent meanwhile.
type packetCounter struct {
	addr string
	p0   float64
	n0   int
}

func startCounting(addr string) (*packetCounter, error) {
	p0, err := packets(addr)
	if err != nil {
		return nil, err
	}
	return &packetCounter{addr: addr, p0: p0, n0: fourLetterCount(addr)}, nil
}

// stop returns the client packets since start, and the final mntr.
func (c *packetCounter) stop() (float64, map[string]float64, error) {
	m, err := mntr(c.addr)
	if err != nil {
		return 0, nil, err
	}
	own := fourLetterCount(c.addr) - c.n0
	return m["zk_packets_received"] - c.p0 - float64(own), m, nil
}

// precreateRecords creates prefix/runs/j0 .. j(n-1), empty, as the run
// records of jobs that have run before (cronguard reads an empty record as
// a new one).
func precreateRecords(addr, prefix string, n int) error {
	conn, err := dial([]string{addr})
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, p := range []string{prefix + "/runs", prefix + "/locks"} {
		if _, err := conn.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return err
		}
	}
	for i := range n {
		p := fmt.Sprintf("%s/runs/j%d", prefix, i)
		if _, err := conn.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("creating %s: %w", p, err)
		}
	}
	return nil
}
