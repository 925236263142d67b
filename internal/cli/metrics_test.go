package cli

import (
	"os"
	"path/filepath"
	"regexp"
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
	data, err := os.ReadFile(filepath.Join(dir, "cronguard_"+metricsFileBase(`odd"lock`)+".prom"))
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

// TestMetricsFileNames: lock names that sanitize alike get files of their
// own (their counters used to merge); a name that is already safe keeps
// its readable file name.
func TestMetricsFileNames(t *testing.T) {
	for _, tc := range []struct{ lock, want string }{
		{"a_b", "a_b"},
		{"nightly-report.pl-a7315b5d", "nightly-report.pl-a7315b5d"},
		{"a:b", "a_b__" + lockHash("a:b")},
		{"a+b", "a_b__" + lockHash("a+b")},
		{`odd"lock`, "odd_lock__" + lockHash(`odd"lock`)},
		{"a__b", "a__b__" + lockHash("a__b")}, // "__" is the hash's separator: never in a plain name
	} {
		if got := metricsFileBase(tc.lock); got != tc.want {
			t.Errorf("metricsFileBase(%q) = %q, want %q", tc.lock, got, tc.want)
		}
	}
	if h := lockHash("a:b"); len(h) != 8 || h != lockHash("a:b") {
		t.Errorf("lockHash = %q: want 8 stable hex digits", h)
	}
	long := strings.Repeat("x", 300)
	if got := metricsFileBase(long); len("."+metricsPrefix+got+".lock") > 255 || !strings.HasSuffix(got, "__"+lockHash(long)) {
		t.Errorf("long name: %q (%d bytes)", got, len(got))
	}

	dir := t.TempDir()
	for _, lock := range []string{"a:b", "a_b", "a+b"} {
		if err := updateMetrics(dir, lock, "g", func(m *runMetrics) { m.runs++ }); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.prom"))
	if len(files) != 3 {
		t.Fatalf("files %v: want one per lock", files)
	}
	for _, f := range files {
		data, _ := os.ReadFile(f)
		if !regexp.MustCompile(`\ncronguard_runs_total\{[^}]*\} 1\n`).Match(data) {
			t.Errorf("%s: want runs_total 1 (counters merged?):\n%s", f, data)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "cronguard_a_b.prom")); err != nil {
		t.Errorf("the safe name lost its readable file: %v", err)
	}
}
