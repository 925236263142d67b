package cli

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The metrics file for node_exporter's textfile collector is written by
// hand in the Prometheus text format (version 0.0.4) rather than through
// client_golang: linking that library costs every cron run about 2.3 ms of
// package init and 5 MB of binary (measured), for eight fixed series. The
// tests parse every file written with the official parser
// (prometheus/common/expfmt), so the format is checked by the library.

// runMetrics is one lock's metrics, carried from file to file so that the
// counters keep counting across runs.
type runMetrics struct {
	lock, group  string
	lastStart    float64
	lastEnd      float64
	lastSuccess  float64
	lastDuration float64
	lastExit     float64
	runs         float64
	unrecorded   float64 // runs whose record entry was lost: neither written nor saved
	// hostInNoGroup is 1 when the last run that read the fleet config found
	// this host in no group at all (a misconfigured identity), else 0.
	hostInNoGroup float64
	lastSlot      float64 // the last slot this host ran (run --schedule); 0: none
	slotsMissed   float64 // slots missed before the slots this host claimed
	pingFailures  float64 // pings (run --ping, ping_url) given up after their retries
	pings         bool    // the job pings: ping_failures_total is written, 0 included
	skips         map[string]float64
	stops         map[string]float64

	// The last run's profile: peak memory in bytes, CPU in seconds.
	lastPeakMemory, lastUserCPU, lastSysCPU float64
	// startFailures counts runs whose job never started, by reason
	// (not_found, not_executable, zk_unreachable, config).
	startFailures map[string]float64
}

const metricsPrefix = "cronguard_"

// updateMetrics applies change to the lock's metrics file under an flock
// (runs of the same job on one host may overlap: one runs, one skips) and
// replaces the file atomically (temp file + rename), so the collector never
// reads half a file.
func updateMetrics(dir, lockName, group string, change func(*runMetrics)) error {
	base := metricsFileBase(lockName)
	path := filepath.Join(dir, metricsPrefix+base+".prom")
	lf, err := os.OpenFile(filepath.Join(dir, "."+metricsPrefix+base+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	defer lf.Close()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("metrics: lock %s: %w", lf.Name(), err)
	}
	m := &runMetrics{lock: lockName, group: group, skips: map[string]float64{}, stops: map[string]float64{},
		startFailures: map[string]float64{}}
	if old, err := os.ReadFile(path); err == nil {
		m.load(old)
	}
	m.group = group
	change(m)
	tmp, err := os.CreateTemp(dir, "."+metricsPrefix+"*.tmp")
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(m.text()); err != nil {
		tmp.Close()
		return fmt.Errorf("metrics: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("metrics: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}

// maxMetricsBase keeps "."+metricsPrefix+base+".lock" under the 255 bytes
// of a file name.
const maxMetricsBase = 200

// metricsFileBase names a lock's metrics file: cronguard_<base>.prom. A
// lock name made only of [A-Za-z0-9_.-], without "__" and not too long, is
// the base as it is. Any other name is sanitized (other characters become
// '_', cut at maxMetricsBase bytes) and gets "__" and 8 hex digits of a
// hash of the original name, so "a:b", "a+b" and "a_b" get three files
// (their counters used to merge in one). A plain base never contains "__"
// and a hashed one always does, so the two forms cannot collide.
func metricsFileBase(lock string) string {
	s := sanitizeMetricName(lock)
	if s == lock && !strings.Contains(lock, "__") && len(lock) <= maxMetricsBase {
		return lock
	}
	if len(s) > maxMetricsBase {
		s = s[:maxMetricsBase]
	}
	return s + "__" + lockHash(lock)
}

// lockHash is 8 hex digits of SHA-256 of a lock name: stable across
// builds and hosts.
func lockHash(lock string) string {
	sum := sha256.Sum256([]byte(lock))
	return hex.EncodeToString(sum[:4])
}

// sanitizeMetricName keeps a lock name usable in a file name.
func sanitizeMetricName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.' {
			return r
		}
		return '_'
	}, s)
}

// load reads back a file this code wrote; unknown lines are ignored, so a
// damaged file only resets the counters.
func (m *runMetrics) load(data []byte) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		name, labels, _ := strings.Cut(line[:i], "{")
		reason := labelValue(labels, "reason")
		switch strings.TrimPrefix(name, metricsPrefix) {
		case "last_start_timestamp_seconds":
			m.lastStart = v
		case "last_end_timestamp_seconds":
			m.lastEnd = v
		case "last_success_timestamp_seconds":
			m.lastSuccess = v
		case "last_duration_seconds":
			m.lastDuration = v
		case "last_exit_code":
			m.lastExit = v
		case "last_peak_memory_bytes":
			m.lastPeakMemory = v
		case "last_user_cpu_seconds":
			m.lastUserCPU = v
		case "last_sys_cpu_seconds":
			m.lastSysCPU = v
		case "runs_total":
			m.runs = v
		case "runs_unrecorded_total":
			m.unrecorded = v
		case "host_in_no_group":
			m.hostInNoGroup = v
		case "last_slot_timestamp_seconds":
			m.lastSlot = v
		case "slots_missed_total":
			m.slotsMissed = v
		case "ping_failures_total":
			m.pingFailures, m.pings = v, true
		case "skips_total":
			m.skips[reason] = v
		case "stops_total":
			m.stops[reason] = v
		case "start_failures_total":
			m.startFailures[reason] = v
		}
	}
}

func labelValue(labels, key string) string {
	i := strings.Index(labels, key+`="`)
	if i < 0 {
		return ""
	}
	rest := labels[i+len(key)+2:]
	if j := strings.IndexByte(rest, '"'); j >= 0 {
		return rest[:j]
	}
	return ""
}

func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

func (m *runMetrics) text() []byte {
	var b bytes.Buffer
	labels := fmt.Sprintf(`lock="%s",group="%s"`, escapeLabel(m.lock), escapeLabel(m.group))
	gauge := func(name, help string, v float64) {
		fmt.Fprintf(&b, "# HELP %s%s %s\n# TYPE %s%s gauge\n%s%s{%s} %s\n",
			metricsPrefix, name, help, metricsPrefix, name, metricsPrefix, name, labels, formatFloat(v))
	}
	counter := func(name, help string, byReason map[string]float64) {
		fmt.Fprintf(&b, "# HELP %s%s %s\n# TYPE %s%s counter\n", metricsPrefix, name, help, metricsPrefix, name)
		reasons := make([]string, 0, len(byReason))
		for r := range byReason {
			reasons = append(reasons, r)
		}
		sort.Strings(reasons)
		for _, r := range reasons {
			fmt.Fprintf(&b, "%s%s{%s,reason=\"%s\"} %s\n", metricsPrefix, name, labels, escapeLabel(r), formatFloat(byReason[r]))
		}
	}
	gauge("last_start_timestamp_seconds", "Start of the last run on this host (Unix time).", m.lastStart)
	gauge("last_end_timestamp_seconds", "End of the last run on this host (Unix time).", m.lastEnd)
	gauge("last_success_timestamp_seconds", "End of the last successful run on this host (Unix time).", m.lastSuccess)
	gauge("last_duration_seconds", "Duration of the last run on this host.", m.lastDuration)
	gauge("last_exit_code", "Exit code of the last run on this host.", m.lastExit)
	gauge("last_peak_memory_bytes", "Peak memory of the last run's process tree on this host (its cgroup's peak with --memory-max, else the largest process's max RSS).", m.lastPeakMemory)
	gauge("last_user_cpu_seconds", "User CPU time of the last run's process tree on this host.", m.lastUserCPU)
	gauge("last_sys_cpu_seconds", "System CPU time of the last run's process tree on this host.", m.lastSysCPU)
	fmt.Fprintf(&b, "# HELP %sruns_total Runs started on this host.\n# TYPE %sruns_total counter\n%sruns_total{%s} %s\n",
		metricsPrefix, metricsPrefix, metricsPrefix, labels, formatFloat(m.runs))
	fmt.Fprintf(&b, "# HELP %sruns_unrecorded_total Runs on this host missing from the run record: neither written nor saved for the next run.\n# TYPE %sruns_unrecorded_total counter\n%sruns_unrecorded_total{%s} %s\n",
		metricsPrefix, metricsPrefix, metricsPrefix, labels, formatFloat(m.unrecorded))
	gauge("host_in_no_group", "1 when the last run found this host in no group of the fleet config (a misconfiguration: check the identity), else 0.", m.hostInNoGroup)
	if m.lastSlot != 0 {
		gauge("last_slot_timestamp_seconds", "The scheduled slot of the last run on this host (Unix time).", m.lastSlot)
		fmt.Fprintf(&b, "# HELP %sslots_missed_total Scheduled slots no host ran, counted by this host's runs of the slots after them.\n# TYPE %sslots_missed_total counter\n%sslots_missed_total{%s} %s\n",
			metricsPrefix, metricsPrefix, metricsPrefix, labels, formatFloat(m.slotsMissed))
	}
	if m.pings || m.pingFailures != 0 {
		fmt.Fprintf(&b, "# HELP %sping_failures_total Pings (run --ping, ping_url) this host gave up on after their retries.\n# TYPE %sping_failures_total counter\n%sping_failures_total{%s} %s\n",
			metricsPrefix, metricsPrefix, metricsPrefix, labels, formatFloat(m.pingFailures))
	}
	counter("skips_total", "Runs skipped on this host, by reason.", m.skips)
	counter("stops_total", "Runs stopped by cronguard on this host, by reason.", m.stops)
	counter("start_failures_total", "Runs on this host whose job never started, by reason: not_found (127), not_executable (126), zk_unreachable and config (125).", m.startFailures)
	return b.Bytes()
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
