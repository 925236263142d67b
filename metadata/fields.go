package metadata

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/cronguard/cronguard/config"
	"github.com/cronguard/cronguard/lock"
	"github.com/cronguard/cronguard/schedule"
	"github.com/cronguard/cronguard/supervise"
)

// The patterns compile on first use: cronguard links this package, and
// every cron run would pay for compiling them at init.
var (
	// packageRE is what cron accepts as a /etc/cron.d file name: cron
	// silently skips any other name (run-parts rules), so a job would never
	// run and nobody would be told.
	packageRE = lazyRE(`^[A-Za-z0-9_-]+$`)
	// userRE is a login name as useradd accepts it (plus Samba's "$").
	userRE     = lazyRE(`^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$`)
	envNameRE  = lazyRE(`^[A-Za-z_][A-Za-z0-9_]*$`)
	resourceRE = lazyRE(`^[A-Za-z0-9_.-]+$`)
	mailtoRE   = lazyRE(`^[^\s"'\\]*$`)
)

func lazyRE(pattern string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(pattern) })
}

const maxUserLen = 32

// checkChars refuses what a one-line cron.d entry cannot hold: a newline or
// carriage return, and every other control character (and invalid UTF-8)
// but the tab, which is whitespace here as it is to cron and to sh (values
// are split on it or quoted with it, never written raw into a line break).
func checkChars(v string) string {
	for _, r := range v {
		switch {
		case r == '\n' || r == '\r':
			return "contains a newline"
		case r == '\t':
		case unicode.IsControl(r) || r == unicode.ReplacementChar:
			return fmt.Sprintf("contains a control or invalid character (%q)", r)
		}
	}
	return ""
}

// badNameChar returns the first control or invalid character of a file
// name (tab included: no script needs one), or -1. The name is written
// into the cron.d file, in comments and in the command, where a newline
// would start a cron line of the name's choosing.
func badNameChar(name string) rune {
	for _, r := range name {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return r
		}
	}
	return -1
}

// setField validates one key's value and stores it in e; it returns the
// problem, prefixed with the key, or "".
func setField(e *Entry, k, v string) string {
	bad := func(format string, args ...any) string {
		return k + ": " + fmt.Sprintf(format, args...)
	}
	if v == "" && k != "params" && k != "mailto" {
		return bad("empty value")
	}
	switch k {
	case "time":
		norm, msg := checkTime(v)
		if msg != "" {
			return bad("%q: %s", v, msg)
		}
		e.Time = norm
	case "package":
		if !packageRE().MatchString(v) {
			return bad("%q: cron ignores /etc/cron.d files whose names have characters other than A-Z a-z 0-9 _ -", v)
		}
		e.Package = v
	case "params":
		words, err := SplitWords(v)
		if err != nil {
			return bad("%v", err)
		}
		e.Params = words
	case "user":
		if len(v) > maxUserLen || !userRE().MatchString(v) {
			return bad("%q is not a valid user name", v)
		}
		e.User = v
	case "group":
		if strings.IndexFunc(v, unicode.IsSpace) >= 0 {
			return bad("%q has spaces", v)
		}
		e.Group = v
	case "lock":
		if msg := checkLock(v); msg != "" {
			return bad("%s", msg)
		}
		e.Lock, e.LockExplicit = v, true
	case "timeout", "wait", "splay":
		if _, err := config.ParseDuration(v); err != nil {
			return bad("%v", err)
		}
		switch k {
		case "timeout":
			e.Timeout = v
		case "wait":
			e.Wait = v
		default:
			e.Splay = v
		}
	case "output":
		if v != "always" && v != "failure" {
			return bad("%q: want always or failure", v)
		}
		e.Output = v
	case "lease":
		for _, l := range strings.Fields(v) {
			if msg := checkLease(l); msg != "" {
				return bad("%q: %s", l, msg)
			}
			e.Leases = append(e.Leases, l)
		}
	case "env":
		words, err := SplitWords(v)
		if err != nil {
			return bad("%v", err)
		}
		seen := map[string]bool{}
		for _, w := range words {
			name, value, ok := strings.Cut(w, "=")
			switch {
			case !ok || !envNameRE().MatchString(name):
				return bad("%q: want NAME=VALUE", w)
			case name == "SHELL":
				return bad("SHELL is set by the cron.d file (/bin/sh), the command line depends on it")
			case name == "MAILTO":
				return bad("MAILTO is read by cron, not the job: use the mailto key")
			case seen[name]:
				return bad("%s is set twice", name)
			}
			seen[name] = true
			e.Env = append(e.Env, EnvVar{Name: name, Value: value})
		}
	case "persistent":
		switch v {
		case "yes":
			e.Persistent = true
		case "no":
		default:
			return bad("%q: want yes or no", v)
		}
	case "nice", "ionice", "memory_max", "cpu_max", "rlimit":
		return setLimitField(e, k, v)
	case "mailto":
		if !mailtoRE().MatchString(v) {
			return bad("%q: want addresses without spaces, quotes or backslashes", v)
		}
		e.Mailto = &v
	}
	return ""
}

func checkLock(name string) string {
	if err := lock.ValidateName(name); err != nil {
		return strings.TrimPrefix(err.Error(), "lock: ")
	}
	return ""
}

// checkTime validates a schedule exactly as Debian's cron reads it and
// returns it normalized: see schedule.Check, where the rules live (the run
// computes its slot from the same reading).
func checkTime(v string) (string, string) {
	return schedule.Check(v)
}

// checkLease validates switchman's RES=COUNT:TOTAL, where COUNT and TOTAL
// are whole numbers or the macros CPU and MEMMB and RES may hold the macro
// FQDN. switchman's Perl expressions are not supported.
func checkLease(l string) string {
	res, rest, ok := strings.Cut(l, "=")
	count, total, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 {
		return "want RES=COUNT:TOTAL"
	}
	if !resourceRE().MatchString(res) {
		return fmt.Sprintf("resource %q: want letters, digits, '_', '.', '-'", res)
	}
	c, cok := leaseNumber(count)
	t, tok := leaseNumber(total)
	switch {
	case !cok:
		return fmt.Sprintf("COUNT %q: want a positive whole number, CPU or MEMMB", count)
	case !tok:
		return fmt.Sprintf("TOTAL %q: want a positive whole number, CPU or MEMMB", total)
	case c > 0 && t > 0 && c > t:
		return "COUNT is larger than TOTAL"
	}
	return ""
}

// leaseNumber returns the value of a number (0 for a macro) and whether the
// text is valid.
func leaseNumber(s string) (int, bool) {
	if s == "CPU" || s == "MEMMB" {
		return 0, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 || strings.HasPrefix(s, "+") {
		return 0, false
	}
	return n, true
}

// setLimitField validates a resource limit key as run reads the flag it
// becomes; rlimit holds any number of NAME=SOFT[:HARD], space-separated.
func setLimitField(e *Entry, k, v string) string {
	var err error
	switch k {
	case "nice":
		_, err = supervise.ParseNice(v)
		e.Nice = v
	case "ionice":
		_, err = supervise.ParseIOnice(v)
		e.IONice = v
	case "memory_max":
		_, err = supervise.ParseSize(v)
		e.MemoryMax = v
	case "cpu_max":
		_, err = supervise.ParseCPUMax(v)
		e.CPUMax = v
	case "rlimit":
		seen := map[string]bool{}
		for _, r := range strings.Fields(v) {
			rl, rerr := supervise.ParseRlimit(r)
			if rerr == nil && seen[rl.Name] {
				rerr = fmt.Errorf("%s is set twice", rl.Name)
			}
			if rerr != nil {
				return k + ": " + rerr.Error()
			}
			seen[rl.Name] = true
			e.Rlimits = append(e.Rlimits, r)
		}
	}
	if err != nil {
		return k + ": " + err.Error()
	}
	return ""
}
