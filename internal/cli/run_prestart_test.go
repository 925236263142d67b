package cli

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Start failures are a counter by reason that survives from run to run,
// in a file the official parser reads.
func TestMetricsStartFailures(t *testing.T) {
	dir := t.TempDir()
	for _, r := range []string{startNotFound, startNotFound, startZKUnreachable, startConfig} {
		if err := updateMetrics(dir, "job", "g", func(m *runMetrics) { m.startFailures[r]++ }); err != nil {
			t.Fatal(err)
		}
	}
	data, _ := os.ReadFile(filepath.Join(dir, "cronguard_job.prom"))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(string(data)))
	if err != nil {
		t.Fatalf("the official parser rejects the file: %v\n%s", err, data)
	}
	got := map[string]float64{}
	for _, m := range fams["cronguard_start_failures_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "reason" {
				got[l.GetValue()] = m.GetCounter().GetValue()
			}
		}
	}
	if got[startNotFound] != 2 || got[startZKUnreachable] != 1 || got[startConfig] != 1 || len(got) != 3 {
		t.Errorf("start failures %v\n%s", got, data)
	}
}

// Runs of every job of a host share the outage state: concurrent updates
// (the minute boundary) lose none, and once one run removed the state the
// others find nothing.
func TestOutageStateConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "outage")
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := withOutageState(path, true, func(s *outageState) bool { s.Quiet++; return true }); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	var seen [10]int
	for i := range seen {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := withOutageState(path, false, func(s *outageState) bool { seen[i] = s.Quiet; return false })
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	total, finders := 0, 0
	for _, n := range seen {
		if n > 0 {
			total, finders = n, finders+1
		}
	}
	if total != 20 || finders != 1 {
		t.Errorf("quiet counts seen %v: want one run to see 20", seen)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state left behind: %v", err)
	}
}
