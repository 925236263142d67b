package schedule

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Check validates a schedule exactly as Debian's cron (vixie cron
// 3.0pl1 with Debian's patches; entry.c load_entry, get_list, get_range,
// get_number) reads it, and returns it with its fields separated by one
// space, or the problem ("" when valid). It is the validator of gen and of
// the metadata block; it accepts @reboot, which Parse refuses (a job run
// at boot has no slots). The rules:
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
func Check(v string) (string, string) {
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
