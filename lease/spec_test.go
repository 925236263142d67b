package lease

import (
	"errors"
	"strings"
	"testing"
)

func TestLeaseEval(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		err  string // substring of the error; "" = ok
	}{
		{"4", 4, ""},
		{" 4 ", 4, ""},
		{"0", 0, ""},
		{"2+3*4", 14, ""},
		{"(2+3)*4", 20, ""},
		{"10-2-3", 5, ""},
		{"100/10/5", 2, ""},
		{"8/2*3", 12, ""},
		{"-3+5", 2, ""},
		{"--3", 3, ""},
		{"+7", 7, ""},
		{"2*(3+(4-1))", 12, ""},
		{"16384/1024", 16, ""},
		{"9223372036854775807", 9223372036854775807, ""},
		{"", 0, "empty"},
		{"   ", 0, "empty"},
		{"abc", 0, `unexpected "abc"`},
		{"4 4", 0, `unexpected "4"`},
		{"2+", 0, "ends too early"},
		{"(2+3", 0, "missing ')'"},
		{"2+3)", 0, `unexpected ")"`},
		{"7/2", 0, "not a whole number"},
		{"1/0", 0, "division by zero"},
		{"2**3", 0, "unexpected"},
		{"1e3", 0, "unexpected"},
		{"system('rm -rf /')", 0, "unexpected"},
		{"`id`", 0, "unexpected"},
		{"$x", 0, "unexpected"},
		{"9223372036854775808", 0, "too large"},
		{"9223372036854775807+1", 0, "overflows"},
		{"4611686018427387904*2", 0, "overflows"},
		{"-9223372036854775807-2", 0, "overflows"},
		{strings.Repeat("(", 100) + "1" + strings.Repeat(")", 100), 0, "nested too deeply"},
		{strings.Repeat("-", 100) + "1", 0, "nested too deeply"},
	} {
		got, err := Eval(tc.in)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("Eval(%q): %v", tc.in, err)
		case tc.err == "" && got != tc.want:
			t.Errorf("Eval(%q) = %d, want %d", tc.in, got, tc.want)
		case tc.err != "" && err == nil:
			t.Errorf("Eval(%q) = %d, want an error with %q", tc.in, got, tc.err)
		case tc.err != "" && !strings.Contains(err.Error(), tc.err):
			t.Errorf("Eval(%q) error %q, want it to mention %q", tc.in, err, tc.err)
		case err != nil && !errors.Is(err, ErrExpr):
			t.Errorf("Eval(%q) error %v is not ErrExpr", tc.in, err)
		}
	}
}

func TestLeaseMacrosExpand(t *testing.T) {
	m := Macros{CPU: 8, FQDN: "box1.example.com", MemMB: 15872}
	for _, tc := range []struct{ in, want string }{
		{"mem", "mem"},
		{"CPU", "8"},
		{"FQDN_cpu", "box1.example.com_cpu"},
		{"FQDN_mem", "box1.example.com_mem"},
		{"MEMMB/1024", "15872/1024"},
		{"1:CPU", "1:8"},
		{"CPU*2:MEMMB", "8*2:15872"},
		{"CPUCPU", "88"},
		{"xFQDNy", "xbox1.example.comy"},
		{"cpu", "cpu"},   // case matters, as in switchman
		{"MEMM", "MEMM"}, // not a macro
		{"FQDNCPU", "box1.example.com8"},
	} {
		if got := m.Expand(tc.in); got != tc.want {
			t.Errorf("Expand(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// The expansion is not scanned again (one s///g pass).
	tricky := Macros{CPU: 2, FQDN: "CPU.example", MemMB: 1}
	if got := tricky.Expand("FQDN"); got != "CPU.example" {
		t.Errorf("a host named CPU.example expanded again: %q", got)
	}
}

func TestLeaseParseSpec(t *testing.T) {
	m := Macros{CPU: 8, FQDN: "box1.example.com", MemMB: 16000}
	for _, tc := range []struct {
		in   string
		want Spec
		err  string
	}{
		{"mem=1:4", Spec{"mem", 1, 4}, ""},
		{"FQDN_cpu=1:CPU", Spec{"box1.example.com_cpu", 1, 8}, ""},
		{"FQDN_mem=MEMMB/4:MEMMB", Spec{"box1.example.com_mem", 4000, 16000}, ""},
		{"cpu=CPU/2:CPU", Spec{"cpu", 4, 8}, ""},
		{"db=(1+1)*2:10", Spec{"db", 4, 10}, ""},
		{"db = 1 : 4 ", Spec{"db", 1, 4}, ""},
		{"db=0:1", Spec{"db", 0, 1}, ""},
		{"db=4:4", Spec{"db", 4, 4}, ""},
		{"mem", Spec{}, "want RES=COUNT:TOTAL"},
		{"mem=1", Spec{}, `no ":TOTAL"`},
		{"mem=1:4:5", Spec{}, "TOTAL"},
		{"=1:4", Spec{}, "empty resource name"},
		{"a/b=1:4", Spec{}, "must not contain '/'"},
		{"..=1:4", Spec{}, "reserved by ZooKeeper"},
		{"_locks=1:4", Spec{}, "reserved for cronguard's lock queue"},
		{"mem=x:4", Spec{}, "COUNT"},
		{"mem=1:", Spec{}, "TOTAL"},
		{"mem=5:4", Spec{}, "could never be granted"},
		{"mem=-1:4", Spec{}, "want 0 or more"},
		{"mem=1:0", Spec{}, "want at least 1"},
		{"mem=1:CPU/3", Spec{}, "not a whole number"},
		{"mem=1;system('id'):4", Spec{}, "unexpected"},
	} {
		got, err := ParseSpec(tc.in, m)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("ParseSpec(%q): %v", tc.in, err)
		case tc.err == "" && got != tc.want:
			t.Errorf("ParseSpec(%q) = %+v, want %+v", tc.in, got, tc.want)
		case tc.err != "" && err == nil:
			t.Errorf("ParseSpec(%q) = %+v, want an error with %q", tc.in, got, tc.err)
		case tc.err != "" && !strings.Contains(err.Error(), tc.err):
			t.Errorf("ParseSpec(%q) error %q, want it to mention %q", tc.in, err, tc.err)
		case err != nil && !errors.Is(err, ErrSpec):
			t.Errorf("ParseSpec(%q) error %v is not ErrSpec", tc.in, err)
		case err != nil && strings.Contains(err.Error(), "\n"):
			t.Errorf("ParseSpec(%q) error is not one line: %q", tc.in, err)
		}
	}
}

func TestLeaseLocalValues(t *testing.T) {
	for _, tc := range []struct {
		cpuinfo string
		want    int64
	}{
		{"processor\t: 0\nmodel name\t: x\n\nprocessor\t: 1\nmodel name\t: x\n", 2},
		{"processor : 0\n", 1},
		{"Processor\t: ARMv7\nprocessor\t: 0\n", 1}, // ARM's model line is not a processor
		{"", 0},
	} {
		if got := countProcessors([]byte(tc.cpuinfo)); got != tc.want {
			t.Errorf("countProcessors(%q) = %d, want %d", tc.cpuinfo, got, tc.want)
		}
	}
	for _, tc := range []struct {
		meminfo string
		want    int64
	}{
		{"MemTotal:       16303156 kB\nMemFree: 1 kB\n", 15921},
		{"MemFree: 1 kB\nMemTotal: 2048 kB\n", 2},
		{"MemFree: 1 kB\n", 0},
		{"MemTotal: lots\n", 0},
	} {
		if got := parseMemTotalMB([]byte(tc.meminfo)); got != tc.want {
			t.Errorf("parseMemTotalMB(%q) = %d, want %d", tc.meminfo, got, tc.want)
		}
	}
	m := LocalMacros("me.example")
	if m.CPU < 1 || m.MemMB < 1 || m.FQDN != "me.example" {
		t.Errorf("LocalMacros = %+v", m)
	}
}

func TestLeaseHeld(t *testing.T) {
	for _, tc := range []struct {
		kids []string
		want int64
		err  error
	}{
		{nil, 0, nil},
		{[]string{"1_4_0000000000", "2_4_0000000003"}, 3, nil},
		{[]string{"-1_4_0000000000", "3_4_0000000001"}, 2, nil}, // Net::ZooKeeper::Semaphore allows negative counts
		{[]string{"1_4_0000000000", "1_5_0000000001"}, 0, ErrTotalMismatch},
		{[]string{"junk"}, 0, ErrBadLease},
	} {
		got, err := Held(tc.kids, 4)
		if !errors.Is(err, tc.err) || (err == nil && got != tc.want) {
			t.Errorf("Held(%q) = %d, %v; want %d, %v", tc.kids, got, err, tc.want, tc.err)
		}
	}
}

func TestQueueSeqParsing(t *testing.T) {
	for _, tc := range []struct {
		name string
		seq  int64
		ok   bool
	}{
		{"job-0000000012", 12, true},
		{"my-job-0000000003", 3, true},
		{"job-", 0, false},
		{"job-12a", 0, false},
		{"job", 0, false},
	} {
		s, ok := trailingSeq(tc.name)
		if s != tc.seq || ok != tc.ok {
			t.Errorf("trailingSeq(%q) = %d, %v", tc.name, s, ok)
		}
	}
	if _, ok := seqOf("acquire-0000000001", "acquire-"); !ok {
		t.Error("seqOf(acquire-...) failed")
	}
	if _, ok := seqOf("other-0000000001", "acquire-"); ok {
		t.Error("seqOf accepted another prefix")
	}
}
