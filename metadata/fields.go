package metadata

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/cronguard/cronguard/config"
	"github.com/cronguard/cronguard/lock"
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

// checkTime validates a schedule exactly as Debian's cron (vixie cron
// 3.0pl1 with Debian's patches; entry.c load_entry, get_list, get_range,
// get_number) reads it, and returns it with its fields separated by one
// space. The rules:
//
//   - An @macro stands alone and is one of @reboot @yearly @annually
//     @monthly @weekly @daily @midnight @hourly, lowercase (cron compares
//     with strcmp). Anything else after "@" is refused.
//   - Otherwise 5 fields: minute 0-59, hour 0-23, day-of-month 1-31, month
//     1-12, day-of-week 0-7 (0 and 7 are both Sunday).
//   - field = item {"," item}; every item is non-empty (cron's get_number
//     refuses an empty word, so "1,,2", ",5" and "0,30," are refused by
//     cron, though robfig/cron drops the empty items).
//   - item = "*" ["/" step] | value ["-" value ["/" step]]. A step after a
//     single value ("5/10") is refused: Debian's cron refuses it ("step
//     specified without range"; upstream vixie read it as just 5).
//   - value = digits, or in the month field a name jan-dec and in the
//     day-of-week field a name sun-sat: three letters, any case. Names
//     count wherever a value does, so in ranges too, but not as a step.
//   - step = digits, 1 or more ("*/0" is refused). A step longer than the
//     range is valid: "*/90" in minutes is minute 0, as cron reads it.
//   - Both ends of a range, and a single value, lie within the field's
//     bounds.
//
// Stricter than cron, on purpose: a range that runs backwards ("5-1",
// "mon-sun", where sun is 0) is refused, though cron accepts it and then
// never matches it; and whatever follows an item up to the next blank
// ("5;x", "*5", "*-5"), which cron skips without a word, is refused. Both
// are mistakes, never something meant. Quartz's "?", "L", "W", "#", robfig's
// @every and TZ= prefixes are not cron syntax and are refused.
func checkTime(v string) (string, string) {
	f := strings.Fields(v)
	norm := strings.Join(f, " ")
	switch {
	case len(f) == 0:
		return "", "empty value"
	case strings.HasPrefix(norm, "TZ=") || strings.HasPrefix(norm, "CRON_TZ="):
		return "", "a time zone prefix is not cron syntax"
	case strings.HasPrefix(f[0], "@"):
		if !cronMacros[f[0]] {
			return "", fmt.Sprintf("unknown @macro %q (cron knows @reboot @yearly @annually @monthly @weekly @daily @midnight @hourly)", f[0])
		}
		if len(f) != 1 {
			return "", fmt.Sprintf("%s stands alone, without fields", f[0])
		}
		return norm, ""
	case len(f) != 5:
		return "", fmt.Sprintf("want 5 fields (minute hour day-of-month month day-of-week) or an @macro, got %d", len(f))
	case strings.Contains(norm, "?"):
		return "", `"?" is not cron syntax (use "*")`
	}
	for i, field := range f {
		if msg := cronFields[i].check(field); msg != "" {
			return "", fmt.Sprintf("%s %q: %s", cronFields[i].name, field, msg)
		}
	}
	return norm, ""
}

// cronMacros are the @macros Debian's cron knows.
var cronMacros = map[string]bool{
	"@reboot": true, "@yearly": true, "@annually": true, "@monthly": true,
	"@weekly": true, "@daily": true, "@midnight": true, "@hourly": true,
}

// cronField is one of the 5 fields of a schedule: its bounds and the names
// its values may take (names[i] is low+i), as in cron's entry.c.
type cronField struct {
	name     string
	low, max int
	names    []string
	nameHint string
}

var cronFields = [5]cronField{
	{name: "minute", low: 0, max: 59},
	{name: "hour", low: 0, max: 23},
	{name: "day-of-month", low: 1, max: 31},
	{name: "month", low: 1, max: 12, nameHint: "a month name (jan-dec)",
		names: []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
	{name: "day-of-week", low: 0, max: 7, nameHint: "a day name (sun-sat)",
		names: []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
}

// check validates one field; it returns the problem or "".
func (c cronField) check(field string) string {
	for _, item := range strings.Split(field, ",") {
		if item == "" {
			return "empty item in the list"
		}
		if msg := c.checkItem(item); msg != "" {
			return msg
		}
	}
	return ""
}

func (c cronField) checkItem(item string) string {
	base, step, hasStep := strings.Cut(item, "/")
	if hasStep {
		switch n, ok := cronDigits(step); {
		case step == "":
			return "empty step"
		case !ok:
			return fmt.Sprintf("step %q is not a number", step)
		case n == 0:
			return "step 0: want 1 or more"
		}
	}
	if base == "*" {
		return ""
	}
	first, last, isRange := strings.Cut(base, "-")
	if hasStep && !isRange {
		return fmt.Sprintf("a step needs a range or * (Debian's cron refuses %q)", item)
	}
	a, msg := c.value(first)
	if msg != "" {
		return msg
	}
	if !isRange {
		return ""
	}
	b, msg := c.value(last)
	if msg != "" {
		return msg
	}
	if a > b {
		hint := ""
		if c.name == "day-of-week" && b == 0 {
			hint = " (end a range on Sunday with 7)"
		}
		return fmt.Sprintf("range %d-%d runs backwards: cron accepts it and never matches it%s", a, b, hint)
	}
	return ""
}

// value reads a number or a name and checks it against the bounds.
func (c cronField) value(w string) (int, string) {
	if w == "" {
		return 0, "empty value"
	}
	for i, n := range c.names {
		if strings.EqualFold(w, n) {
			return c.low + i, ""
		}
	}
	n, ok := cronDigits(w)
	if !ok {
		if c.nameHint != "" {
			return 0, fmt.Sprintf("%q is not a number or %s", w, c.nameHint)
		}
		return 0, fmt.Sprintf("%q is not a number", w)
	}
	if n < c.low || n > c.max {
		return 0, fmt.Sprintf("%s is out of range %d-%d", strings.TrimLeft(w, "0")+zeroIfEmpty(w), c.low, c.max)
	}
	return n, ""
}

func zeroIfEmpty(w string) string {
	if strings.Trim(w, "0") == "" {
		return "0"
	}
	return ""
}

// cronDigits reads a non-empty string of ASCII digits; a number too large
// for an int comes back as MaxInt (out of every range).
func cronDigits(w string) (int, bool) {
	if w == "" {
		return 0, false
	}
	for _, r := range w {
		if r < '0' || r > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(w)
	if err != nil {
		return math.MaxInt, true
	}
	return n, true
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
