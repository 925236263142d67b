package schedule

import (
	"fmt"
	"math/bits"
	"strings"
)

// OnCalendar returns systemd calendar events (systemd.time(7), the
// values of a timer's OnCalendar= lines) that together elapse at the
// minutes the spec matches, in the local zone (no zone suffix): one line,
// or two when both day fields are restricted, since cron runs the job on
// a day that matches either field and one systemd event matches only days
// that satisfy both (one line for the day-of-month, one for the
// day-of-week). Every field is written from the parsed sets, so names,
// ranges, steps, lists and 7 for Sunday come out as systemd reads them.
//
// systemd and cron differ around clock changes (cron runs a fixed-time
// job of a skipped hour after the jump; systemd skips it), which the
// events cannot express.
func (s *Schedule) OnCalendar() []string {
	months := calendarList(uint64(s.month), 1, 12)
	doms := calendarList(uint64(s.dom), 1, 31)
	clock := fmt.Sprintf("%s:%s:00", calendarList(uint64(s.hour), 0, 23), calendarList(s.minute, 0, 59))
	dows := weekdays(s.dow)
	event := func(dow, dom string) string {
		e := fmt.Sprintf("*-%s-%s %s", months, dom, clock)
		if dow != "" {
			e = dow + " " + e
		}
		return e
	}
	if s.domStar || s.dowStar || doms == "*" || dows == "" {
		// Both fields must match (or one of them matches every day).
		return []string{event(dows, doms)}
	}
	return []string{event("", doms), event(dows, "*")}
}

// calendarList writes the values of set within [lo, hi]: "*" for all of
// them, "A/STEP" for every STEP-th from A to the end, else a list of
// values and ranges ("A..B"), two digits each.
func calendarList(set uint64, lo, hi int) string {
	var vals []int
	for v := lo; v <= hi; v++ {
		if set&(1<<v) != 0 {
			vals = append(vals, v)
		}
	}
	if len(vals) == hi-lo+1 {
		return "*"
	}
	if n := len(vals); n > 2 {
		step := vals[1] - vals[0]
		progression := step > 1 && vals[n-1]+step > hi
		for i := 2; i < n && progression; i++ {
			progression = vals[i]-vals[i-1] == step
		}
		if progression {
			return fmt.Sprintf("%02d/%d", vals[0], step)
		}
	}
	return runs(vals, func(v int) string { return fmt.Sprintf("%02d", v) })
}

// runs joins values with ",", writing a run of three or more consecutive
// values as "A..B".
func runs(vals []int, name func(int) string) string {
	var parts []string
	for i := 0; i < len(vals); {
		j := i
		for j+1 < len(vals) && vals[j+1] == vals[j]+1 {
			j++
		}
		if j-i >= 2 {
			parts = append(parts, name(vals[i])+".."+name(vals[j]))
		} else {
			for k := i; k <= j; k++ {
				parts = append(parts, name(vals[k]))
			}
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// weekdays writes the day-of-week set (bit 0 Sunday) in systemd's order,
// Monday first: "" when it holds every day.
func weekdays(dow uint8) string {
	if bits.OnesCount8(dow&0x7f) == 7 {
		return ""
	}
	names := [...]string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}
	var vals []int // 0 Monday .. 6 Sunday
	for i := 0; i < 7; i++ {
		if dow&(1<<((i+1)%7)) != 0 {
			vals = append(vals, i)
		}
	}
	return runs(vals, func(v int) string { return names[v] })
}
