package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/cronguard/cronguard/config"
	"github.com/cronguard/cronguard/lease"
)

func leaseEnv(leases []string, noLock bool, lockName string) *runEnv {
	return &runEnv{
		o:        &runOptions{leases: leases, noLock: noLock},
		st:       &settings{hostname: "box1.example", local: &config.Local{}},
		lockName: lockName,
	}
}

func TestParseLeases(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		noLock bool
		lock   string
		want   []lease.Spec
		err    string
	}{
		{nil, false, "job", nil, ""},
		{[]string{"mem=1:4"}, false, "job", []lease.Spec{{Resource: "mem", Count: 1, Total: 4}}, ""},
		{[]string{"FQDN_cpu=1:4", "db=2*2:8"}, false, "job",
			[]lease.Spec{{Resource: "box1.example_cpu", Count: 1, Total: 4}, {Resource: "db", Count: 4, Total: 8}}, ""},
		{[]string{"mem=1"}, false, "job", nil, `--lease "mem=1": invalid lease: want RES=COUNT:TOTAL`},
		{[]string{"mem=x:4"}, false, "job", nil, `--lease "mem=x:4": invalid lease: COUNT`},
		{[]string{"mem=1:4", "mem=2:4"}, false, "job", nil, `resource "mem" is already leased by --lease "mem=1:4"`},
		{[]string{"FQDN=1:4", "box1.example=1:4"}, false, "job", nil, "already leased"},
		{[]string{"mem=1:4"}, true, "bad name", nil, "the lock name names the queue entries"},
		{[]string{"mem=1:4"}, true, "fine", []lease.Spec{{Resource: "mem", Count: 1, Total: 4}}, ""},
	} {
		e := leaseEnv(tc.args, tc.noLock, tc.lock)
		err := e.parseLeases()
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseLeases(%q) = %v, want an error with %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseLeases(%q): %v", tc.args, err)
			continue
		}
		var got []lease.Spec
		for _, l := range e.leases {
			got = append(got, l.Spec)
		}
		if len(got) != len(tc.want) {
			t.Errorf("parseLeases(%q) = %+v, want %+v", tc.args, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("parseLeases(%q)[%d] = %+v, want %+v", tc.args, i, got[i], tc.want[i])
			}
		}
	}
}

func TestWaitDeadline(t *testing.T) {
	started := time.Now().Add(-2 * time.Second)
	for _, tc := range []struct {
		name    string
		wait    time.Duration
		rwt     time.Duration
		started time.Time
		want    time.Duration // from now; 0 = no deadline; <0 = in the past by that much
	}{
		{"no bound (switchman)", 0, 0, time.Time{}, 0},
		{"resources_wait_timeout", 0, 5 * time.Second, time.Time{}, 5 * time.Second},
		{"--wait from now", 3 * time.Second, 0, time.Time{}, 3 * time.Second},
		{"--wait from the lock wait", 3 * time.Second, 0, started, time.Second},
		{"--wait beats resources_wait_timeout", 3 * time.Second, 60 * time.Second, time.Time{}, 3 * time.Second},
	} {
		e := leaseEnv(nil, false, "job")
		e.o.wait = tc.wait
		e.st.local.ResourcesWaitTimeout = tc.rwt
		e.waitStart = tc.started
		e.leases = []leaseSpec{{arg: "mem=1:4"}}
		got, _ := e.waitDeadline()
		if tc.want == 0 {
			if !got.IsZero() {
				t.Errorf("%s: deadline %v, want none", tc.name, got)
			}
			continue
		}
		if d := time.Until(got) - tc.want; d > 100*time.Millisecond || d < -100*time.Millisecond {
			t.Errorf("%s: deadline in %v, want %v", tc.name, time.Until(got), tc.want)
		}
	}
}

// TestSplayDelay: the delay depends on the lock and D only, never on the
// host, and stays below D.
func TestSplayDelay(t *testing.T) {
	for _, tc := range []struct {
		lock string
		d    time.Duration
	}{
		{"backup", time.Minute},
		{"report.sh", 30 * time.Second},
		{"x", time.Millisecond},
		{"nightly-report-a1b2c3", 5 * time.Minute},
	} {
		first := splayDelay(tc.lock, tc.d)
		if first < 0 || first >= tc.d {
			t.Errorf("splayDelay(%q, %v) = %v, outside [0, D)", tc.lock, tc.d, first)
		}
		for _, host := range []string{"hostA", "hostB", "box1.example.com"} {
			e := leaseEnv(nil, false, tc.lock)
			e.st.hostname = host
			if got := splayDelay(e.lockName, tc.d); got != first {
				t.Errorf("splayDelay(%q) on %s = %v, want %v as on every host", tc.lock, host, got, first)
			}
		}
	}
	if splayDelay("a", time.Hour) == splayDelay("b", time.Hour) {
		t.Error("two locks got the same splay: not spread")
	}
}
