package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestMetricsFileParsesAndCounts(t *testing.T) {
	dir := t.TempDir()
	run := func(exit float64, stop string) {
		t.Helper()
		err := updateMetrics(dir, `odd"lock`, "g", func(m *runMetrics) {
			m.runs++
			m.lastStart, m.lastEnd, m.lastExit, m.lastDuration = 100, 160, exit, 60
			if exit == 0 {
				m.lastSuccess = 160
			}
			if stop != "" {
				m.stops[stop]++
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	run(0, "")
	run(143, "ineligible")
	run(143, "ineligible")
	if err := updateMetrics(dir, `odd"lock`, "g", func(m *runMetrics) { m.skips["lock_busy"]++ }); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "cronguard_odd_lock.prom"))
	if err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(string(data)))
	if err != nil {
		t.Fatalf("the official parser rejects the file: %v\n%s", err, data)
	}
	value := func(name string) float64 {
		f, ok := fams[name]
		if !ok || len(f.Metric) != 1 {
			t.Fatalf("%s: %v\n%s", name, f, data)
		}
		m := f.Metric[0]
		if m.Gauge != nil {
			return m.Gauge.GetValue()
		}
		return m.Counter.GetValue()
	}
	for name, want := range map[string]float64{
		"cronguard_runs_total": 3, "cronguard_stops_total": 2, "cronguard_skips_total": 1,
		"cronguard_last_exit_code": 143, "cronguard_last_success_timestamp_seconds": 160,
	} {
		if got := value(name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if l := fams["cronguard_runs_total"].Metric[0].Label; len(l) != 2 || l[0].GetValue() == "" {
		t.Errorf("labels %v", l)
	}
	if tmp, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(tmp) != 0 {
		t.Errorf("temp files left: %v", tmp)
	}
}
