package lease

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"unicode"
)

// ErrSpec marks an invalid --lease argument.
var ErrSpec = errors.New("invalid lease")

// LockQueueName is the queue directory under <prefix>/queues that holds
// --wait waiters for locks; it cannot be a resource of a cronguard lease.
const LockQueueName = "_locks"

// Macros are switchman's lease macros: CPU (processors), FQDN (this host)
// and MEMMB (memory in MB). They expand anywhere in a resource name, a COUNT
// or a TOTAL.
type Macros struct {
	CPU   int64
	FQDN  string
	MemMB int64
}

// LocalMacros reads this machine's values the way switchman's modules do:
// CPU counts the processors in /proc/cpuinfo (Sys::CPU, so not the
// affinity mask), MEMMB is MemTotal of /proc/meminfo in MB (Linux::MemInfo).
// FQDN is cronguard's host identity (--hostname, else the FQDN), the name
// eligibility uses too.
func LocalMacros(fqdn string) Macros {
	return Macros{CPU: cpuCount(), FQDN: fqdn, MemMB: memTotalMB()}
}

// Expand replaces the macros in s in one left-to-right pass, as switchman's
// s/(CPU|FQDN|MEMMB)/$expand{$1}/eg: the text a macro expands to is not
// scanned again.
func (m Macros) Expand(s string) string {
	if !strings.Contains(s, "CPU") && !strings.Contains(s, "FQDN") && !strings.Contains(s, "MEMMB") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "CPU"):
			b.WriteString(strconv.FormatInt(m.CPU, 10))
			i += 3
		case strings.HasPrefix(s[i:], "FQDN"):
			b.WriteString(m.FQDN)
			i += 4
		case strings.HasPrefix(s[i:], "MEMMB"):
			b.WriteString(strconv.FormatInt(m.MemMB, 10))
			i += 5
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String()
}

// Spec is one parsed --lease RES=COUNT:TOTAL.
type Spec struct {
	Resource string // macros expanded
	Count    int64
	Total    int64
}

func (s Spec) String() string { return fmt.Sprintf("%s=%d:%d", s.Resource, s.Count, s.Total) }

// ParseSpec parses RES=COUNT:TOTAL with macros expanded in all three parts
// and COUNT and TOTAL evaluated by Eval. It refuses what could never be
// granted or would not make a valid znode name.
func ParseSpec(arg string, m Macros) (Spec, error) {
	res, val, ok := strings.Cut(arg, "=")
	if !ok {
		return Spec{}, fmt.Errorf("%w: want RES=COUNT:TOTAL, e.g. mem=2:MEMMB/1024", ErrSpec)
	}
	countRaw, totalRaw, ok := strings.Cut(val, ":")
	if !ok {
		return Spec{}, fmt.Errorf("%w: want RES=COUNT:TOTAL, %q has no \":TOTAL\"", ErrSpec, val)
	}
	sp := Spec{Resource: m.Expand(strings.TrimSpace(res))}
	if err := ValidateResource(sp.Resource); err != nil {
		return Spec{}, err
	}
	if sp.Resource == LockQueueName {
		return Spec{}, fmt.Errorf("%w: resource name %q is reserved for cronguard's lock queue", ErrSpec, LockQueueName)
	}
	var err error
	if sp.Count, err = evalPart("COUNT", countRaw, m); err != nil {
		return Spec{}, err
	}
	if sp.Total, err = evalPart("TOTAL", totalRaw, m); err != nil {
		return Spec{}, err
	}
	countS, totalS := strings.TrimSpace(countRaw), strings.TrimSpace(totalRaw)
	switch {
	case sp.Total < 1:
		return Spec{}, fmt.Errorf("%w: TOTAL %s = %d, want at least 1", ErrSpec, totalS, sp.Total)
	case sp.Count < 0:
		return Spec{}, fmt.Errorf("%w: COUNT %s = %d, want 0 or more", ErrSpec, countS, sp.Count)
	case sp.Count > sp.Total:
		return Spec{}, fmt.Errorf("%w: COUNT %d exceeds TOTAL %d: it could never be granted", ErrSpec, sp.Count, sp.Total)
	}
	return sp, nil
}

// evalPart expands the macros in raw and evaluates it; an error names the
// part as written and, when macros changed it, as evaluated.
func evalPart(what, raw string, m Macros) (int64, error) {
	exp := m.Expand(raw)
	v, err := Eval(exp)
	if err == nil {
		return v, nil
	}
	if strings.TrimSpace(exp) != strings.TrimSpace(raw) {
		return 0, fmt.Errorf("%w: %s %q (%q here): %v", ErrSpec, what, strings.TrimSpace(raw), strings.TrimSpace(exp), err)
	}
	return 0, fmt.Errorf("%w: %s %q: %v", ErrSpec, what, strings.TrimSpace(raw), err)
}

// ValidateResource checks that a resource name (macros expanded) makes one
// znode name.
func ValidateResource(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty resource name", ErrSpec)
	case len(name) > 512:
		return fmt.Errorf("%w: resource name longer than 512 bytes", ErrSpec)
	case strings.Contains(name, "/"):
		return fmt.Errorf("%w: resource name %q must not contain '/'", ErrSpec, name)
	case name == "." || name == ".." || name == "zookeeper":
		return fmt.Errorf("%w: resource name %q is reserved by ZooKeeper", ErrSpec, name)
	}
	for _, r := range name {
		if r == unicode.ReplacementChar || unicode.IsControl(r) || unicode.IsSpace(r) {
			return fmt.Errorf("%w: resource name %q has a control, space or invalid character", ErrSpec, name)
		}
	}
	return nil
}

func cpuCount() int64 {
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if n := countProcessors(b); n > 0 {
			return n
		}
	}
	return int64(runtime.NumCPU())
}

// countProcessors counts the "processor : N" lines of /proc/cpuinfo.
func countProcessors(cpuinfo []byte) int64 {
	var n int64
	sc := bufio.NewScanner(bytes.NewReader(cpuinfo))
	for sc.Scan() {
		k, _, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "processor" {
			n++
		}
	}
	return n
}

func memTotalMB() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	return parseMemTotalMB(b)
}

// parseMemTotalMB reads "MemTotal: N kB" and returns int(N/1024).
func parseMemTotalMB(meminfo []byte) int64 {
	sc := bufio.NewScanner(bytes.NewReader(meminfo))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != "MemTotal" {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			return 0
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0
		}
		return kb / 1024
	}
	return 0
}
