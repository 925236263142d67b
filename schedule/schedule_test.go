package schedule

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata"
)

func mustParse(t testing.TB, spec string) *Schedule {
	t.Helper()
	s, err := Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func zone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// tm reads an RFC 3339 time into loc.
func tm(t testing.TB, loc *time.Location, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v.In(loc)
}

func keys(ts []time.Time) []string {
	out := []string{}
	for _, t := range ts {
		out = append(out, Key(t))
	}
	return out
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ spec, want string }{
		{"@reboot", "@reboot has no slots"},
		{"0 0 31 2 *", `schedule "0 0 31 2 *" matches no day: cron accepts it and never runs it`},
		{"0 0 30,31 feb *", `schedule "0 0 30,31 feb *" matches no day: cron accepts it and never runs it`},
		{"60 * * * *", `schedule "60 * * * *": minute "60": 60 is out of range 0-59`},
		{"@fortnightly", `schedule "@fortnightly": unknown @macro "@fortnightly" (cron knows @reboot @yearly @annually @monthly @weekly @daily @midnight @hourly)`},
	} {
		if _, err := Parse(tc.spec); err == nil || err.Error() != tc.want {
			t.Errorf("Parse(%q) = %v, want %s", tc.spec, err, tc.want)
		}
	}
	// The OR rule matches some day even with an impossible day of month.
	if _, err := Parse("0 0 31 2 mon"); err != nil {
		t.Error(err)
	}
}

func TestMatches(t *testing.T) {
	// 2026-03-02 is a Monday, 2026-03-01 a Sunday, 2026-03-13 a Friday.
	for _, tc := range []struct {
		spec, at string
		want     bool
	}{
		{"* * * * *", "2026-03-02T10:17:00Z", true},
		{"*/15 * * * *", "2026-03-02T10:30:00Z", true},
		{"*/15 * * * *", "2026-03-02T10:20:00Z", false},
		{"10-40/10 * * * *", "2026-03-02T10:40:00Z", true},
		{"10-40/10 * * * *", "2026-03-02T10:50:00Z", false},
		{"*/90 * * * *", "2026-03-02T10:00:00Z", true},
		{"*/90 * * * *", "2026-03-02T10:30:00Z", false},
		{"0 9-17/2 * * *", "2026-03-02T11:00:00Z", true},
		{"0 9-17/2 * * *", "2026-03-02T12:00:00Z", false},
		{"0 0 * JAN-MAR Mon-Fri", "2026-03-02T00:00:00Z", true},
		{"0 0 * JAN-MAR Mon-Fri", "2026-03-01T00:00:00Z", false},
		{"0 0 * apr-dec *", "2026-03-02T00:00:00Z", false},
		// 7 and 0 are both Sunday, alone or ending a range.
		{"0 0 * * 7", "2026-03-01T00:00:00Z", true},
		{"0 0 * * 0", "2026-03-01T00:00:00Z", true},
		{"0 0 * * sat-7", "2026-03-01T00:00:00Z", true},
		{"0 0 * * 5-7/2", "2026-03-01T00:00:00Z", true}, // 5, 7
		{"0 0 * * 5-7/2", "2026-02-28T00:00:00Z", false},
		// Both day fields restricted: either matches (the 13th, or a Friday).
		{"0 0 13 * 5", "2026-03-13T00:00:00Z", true},
		{"0 0 13 * 5", "2026-03-06T00:00:00Z", true},  // Friday
		{"0 0 13 * 5", "2026-04-13T00:00:00Z", true},  // Monday the 13th
		{"0 0 13 * 5", "2026-04-14T00:00:00Z", false}, // neither
		// A field starting with "*" makes it both.
		{"0 0 13 * *", "2026-03-06T00:00:00Z", false},
		{"0 0 * * 5", "2026-03-13T00:00:00Z", true},
		{"0 0 */2 * 5", "2026-03-13T00:00:00Z", true},  // 13th is odd, and a Friday
		{"0 0 */2 * 5", "2026-03-06T00:00:00Z", false}, // Friday, even day: DOM_STAR makes it AND
		{"0 0 1 * */7", "2026-03-02T00:00:00Z", false}, // */7 is 0,7 (Sunday): DOW_STAR, AND
		{"0 0 1 * */7", "2026-03-01T00:00:00Z", true},
		{"0 0 29 2 *", "2028-02-29T00:00:00Z", true},
	} {
		s := mustParse(t, tc.spec)
		if got := s.Matches(tm(t, time.UTC, tc.at)); got != tc.want {
			t.Errorf("%q at %s: %v, want %v", tc.spec, tc.at, got, tc.want)
		}
	}
}

// TestSlot: a run computes the latest matching minute at or before
// now+tolerance.
func TestSlot(t *testing.T) {
	utc := time.UTC
	for _, tc := range []struct {
		spec, now string
		tol       time.Duration
		want      string
	}{
		{"*/5 * * * *", "2026-05-04T12:05:00Z", DefaultTolerance, "2026-05-04T12:05:00Z"},
		{"*/5 * * * *", "2026-05-04T12:05:09Z", DefaultTolerance, "2026-05-04T12:05:00Z"},
		{"*/5 * * * *", "2026-05-04T12:04:59Z", DefaultTolerance, "2026-05-04T12:05:00Z"}, // woke early
		{"*/5 * * * *", "2026-05-04T12:04:51Z", DefaultTolerance, "2026-05-04T12:05:00Z"},
		{"*/5 * * * *", "2026-05-04T12:04:49Z", DefaultTolerance, "2026-05-04T12:00:00Z"},
		{"*/5 * * * *", "2026-05-04T12:04:59Z", 0, "2026-05-04T12:00:00Z"},
		{"*/5 * * * *", "2026-05-04T12:09:59Z", 0, "2026-05-04T12:05:00Z"},
		{"* * * * *", "2026-05-04T12:04:30Z", DefaultTolerance, "2026-05-04T12:04:00Z"},
		{"30 2 * * *", "2026-05-04T02:29:55Z", DefaultTolerance, "2026-05-04T02:30:00Z"},
		{"30 2 * * *", "2026-05-04T02:29:45Z", DefaultTolerance, "2026-05-03T02:30:00Z"},
		{"30 2 * * *", "2026-05-04T23:00:00Z", DefaultTolerance, "2026-05-04T02:30:00Z"},
		{"0 0 1 1 *", "2026-01-01T00:00:03Z", DefaultTolerance, "2026-01-01T00:00:00Z"},
		{"0 0 1 1 *", "2025-12-31T23:59:55Z", DefaultTolerance, "2026-01-01T00:00:00Z"},
		{"0 0 1 1 *", "2025-12-31T23:59:00Z", DefaultTolerance, "2025-01-01T00:00:00Z"},
		{"@yearly", "2026-07-01T00:00:00Z", 0, "2026-01-01T00:00:00Z"},
		{"@annually", "2026-07-01T00:00:00Z", 0, "2026-01-01T00:00:00Z"},
		{"@monthly", "2026-07-15T00:00:00Z", 0, "2026-07-01T00:00:00Z"},
		{"@weekly", "2026-07-15T00:00:00Z", 0, "2026-07-12T00:00:00Z"}, // Sunday
		{"@daily", "2026-07-15T13:00:00Z", 0, "2026-07-15T00:00:00Z"},
		{"@midnight", "2026-07-15T13:00:00Z", 0, "2026-07-15T00:00:00Z"},
		{"@hourly", "2026-07-15T13:59:59Z", 0, "2026-07-15T13:00:00Z"},
		// Feb 29: every 4 years, 8 across 2100.
		{"0 0 29 2 *", "2026-05-04T12:00:00Z", 0, "2024-02-29T00:00:00Z"},
		{"0 0 29 2 *", "2028-02-29T00:00:05Z", DefaultTolerance, "2028-02-29T00:00:00Z"},
		{"0 0 29 2 *", "2103-12-31T00:00:00Z", 0, "2096-02-29T00:00:00Z"},
		{"0 0 29 2 mon", "2026-05-04T12:00:00Z", 0, "2026-02-23T00:00:00Z"}, // OR rule: Mondays of February
		// Month and year boundaries, names.
		{"0 12 31 * *", "2026-05-04T00:00:00Z", 0, "2026-03-31T12:00:00Z"},
		{"15 4 * feb sun", "2026-05-04T00:00:00Z", 0, "2026-02-22T04:15:00Z"},
	} {
		s := mustParse(t, tc.spec)
		if got := Key(s.Slot(tm(t, utc, tc.now), tc.tol).UTC()); got != tc.want {
			t.Errorf("%q at %s (tolerance %v): slot %s, want %s", tc.spec, tc.now, tc.tol, got, tc.want)
		}
	}
}

// TestSlotDST: the slot a run at each real instant computes, on the days
// the clock changes, in the host's zone.
func TestSlotDST(t *testing.T) {
	for _, tc := range []struct {
		zone, spec, now, want string
	}{
		// Europe/Berlin, 2026-03-29: 02:00 CET jumps to 03:00 CEST.
		{"Europe/Berlin", "30 2 * * *", "2026-03-28T02:30:01+01:00", "2026-03-28T02:30:00+01:00"},
		{"Europe/Berlin", "30 2 * * *", "2026-03-29T01:59:30+01:00", "2026-03-28T02:30:00+01:00"},
		// Cron runs the fixed-time job of the gap right after the jump:
		// its slot keeps 02:30, with the offset after the gap.
		{"Europe/Berlin", "30 2 * * *", "2026-03-29T03:00:01+02:00", "2026-03-29T02:30:00+02:00"},
		{"Europe/Berlin", "30 2 * * *", "2026-03-29T01:59:55+01:00", "2026-03-29T02:30:00+02:00"}, // woke early
		{"Europe/Berlin", "30 2 * * *", "2026-03-29T03:30:00+02:00", "2026-03-29T02:30:00+02:00"},
		{"Europe/Berlin", "30 2 * * *", "2026-03-30T02:30:00+02:00", "2026-03-30T02:30:00+02:00"},
		// Several fixed minutes in the gap: cron runs each at the jump,
		// and each run computes the last one: one slot.
		{"Europe/Berlin", "0,30 2 * * *", "2026-03-29T03:00:01+02:00", "2026-03-29T02:30:00+02:00"},
		{"Europe/Berlin", "30 2,3 * * *", "2026-03-29T03:00:01+02:00", "2026-03-29T02:30:00+02:00"},
		{"Europe/Berlin", "0 2,3 * * *", "2026-03-29T03:00:01+02:00", "2026-03-29T03:00:00+02:00"},
		// Wildcard jobs: not run in the gap.
		{"Europe/Berlin", "*/15 * * * *", "2026-03-29T01:45:01+01:00", "2026-03-29T01:45:00+01:00"},
		{"Europe/Berlin", "*/15 * * * *", "2026-03-29T03:00:01+02:00", "2026-03-29T03:00:00+02:00"},
		{"Europe/Berlin", "*/15 * * * *", "2026-03-29T01:59:55+01:00", "2026-03-29T03:00:00+02:00"},
		{"Europe/Berlin", "* 2 * * *", "2026-03-29T03:00:01+02:00", "2026-03-28T02:59:00+01:00"},
		// Europe/Berlin, 2026-10-25: 03:00 CEST goes back to 02:00 CET.
		{"Europe/Berlin", "30 2 * * *", "2026-10-25T02:30:01+02:00", "2026-10-25T02:30:00+02:00"},
		{"Europe/Berlin", "30 2 * * *", "2026-10-25T02:30:01+01:00", "2026-10-25T02:30:00+02:00"}, // cron does not run it
		{"Europe/Berlin", "30 2 * * *", "2026-10-25T02:10:00+01:00", "2026-10-25T02:30:00+02:00"},
		{"Europe/Berlin", "30 2 * * *", "2026-10-25T05:00:00+01:00", "2026-10-25T02:30:00+02:00"},
		{"Europe/Berlin", "30 2 * * *", "2026-10-26T02:30:00+01:00", "2026-10-26T02:30:00+01:00"},
		{"Europe/Berlin", "*/15 * * * *", "2026-10-25T02:45:01+02:00", "2026-10-25T02:45:00+02:00"},
		{"Europe/Berlin", "*/15 * * * *", "2026-10-25T02:59:55+02:00", "2026-10-25T02:00:00+01:00"}, // woke early
		{"Europe/Berlin", "*/15 * * * *", "2026-10-25T02:00:01+01:00", "2026-10-25T02:00:00+01:00"},
		{"Europe/Berlin", "*/15 * * * *", "2026-10-25T02:14:00+01:00", "2026-10-25T02:00:00+01:00"},
		{"Europe/Berlin", "*/15 * * * *", "2026-10-25T03:05:00+01:00", "2026-10-25T03:00:00+01:00"},
		{"Europe/Berlin", "* 2 * * *", "2026-10-25T02:59:01+02:00", "2026-10-25T02:59:00+02:00"},
		{"Europe/Berlin", "* 2 * * *", "2026-10-25T02:00:01+01:00", "2026-10-25T02:00:00+01:00"},
		{"Europe/Berlin", "* 2 * * *", "2026-10-25T04:00:00+01:00", "2026-10-25T02:59:00+01:00"},
		{"Europe/Berlin", "45 2 * * *", "2026-10-25T02:10:00+01:00", "2026-10-25T02:45:00+02:00"}, // second pass, fixed
		{"Europe/Berlin", "5,45 * * * *", "2026-10-25T02:10:00+01:00", "2026-10-25T02:05:00+01:00"},
		{"Europe/Berlin", "5,45 * * * *", "2026-10-25T02:04:00+01:00", "2026-10-25T02:45:00+02:00"},
		// America/New_York, 2026-03-08: 02:00 EST jumps to 03:00 EDT.
		{"America/New_York", "30 2 * * *", "2026-03-08T03:00:01-04:00", "2026-03-08T02:30:00-04:00"},
		{"America/New_York", "30 2 * * *", "2026-03-08T01:59:00-05:00", "2026-03-07T02:30:00-05:00"},
		{"America/New_York", "*/15 * * * *", "2026-03-08T03:00:01-04:00", "2026-03-08T03:00:00-04:00"},
		{"America/New_York", "* 2 * * *", "2026-03-08T03:00:01-04:00", "2026-03-07T02:59:00-05:00"},
		// America/New_York, 2026-11-01: 02:00 EDT goes back to 01:00 EST.
		{"America/New_York", "30 1 * * *", "2026-11-01T01:30:01-04:00", "2026-11-01T01:30:00-04:00"},
		{"America/New_York", "30 1 * * *", "2026-11-01T01:30:01-05:00", "2026-11-01T01:30:00-04:00"},
		{"America/New_York", "*/15 * * * *", "2026-11-01T01:30:01-04:00", "2026-11-01T01:30:00-04:00"},
		{"America/New_York", "*/15 * * * *", "2026-11-01T01:30:01-05:00", "2026-11-01T01:30:00-05:00"},
		{"America/New_York", "* 1 * * *", "2026-11-01T01:59:01-04:00", "2026-11-01T01:59:00-04:00"},
		{"America/New_York", "* 1 * * *", "2026-11-01T01:00:01-05:00", "2026-11-01T01:00:00-05:00"},
		{"America/New_York", "30 2 * * *", "2026-11-01T02:30:01-05:00", "2026-11-01T02:30:00-05:00"},
	} {
		loc := zone(t, tc.zone)
		s := mustParse(t, tc.spec)
		if got := Key(s.Slot(tm(t, loc, tc.now), DefaultTolerance)); got != tc.want {
			t.Errorf("%s %q at %s: slot %s, want %s", tc.zone, tc.spec, tc.now, got, tc.want)
		}
	}
}

// cronRuns simulates Debian's cron (cron.c, cron.8 "DAYLIGHT SAVING TIME
// AND OTHER TIME CHANGES") minute by minute over [from, to) in loc, and
// returns the instants it starts the job, a second after each minute.
func cronRuns(s *Schedule, loc *time.Location, from, to time.Time) []time.Time {
	var runs []time.Time
	wall := func(t time.Time) int64 {
		_, o := t.In(loc).Zone()
		return floorMinute(t.Unix() + int64(o))
	}
	match := func(w int64) bool { return s.Matches(time.Unix(w, 0).UTC()) }
	virtual := wall(from) - 60
	for r := from; r.Before(to); r = r.Add(time.Minute) {
		clock := wall(r)
		run := false
		switch diff := (clock - virtual) / 60; {
		case diff == 1: // normal
			run = match(clock)
			virtual = clock
		case diff > 5 && diff < 180: // jumped forward: wildcard jobs now, fixed ones of the gap
			run = s.wild && match(clock)
			for v := virtual + 60; v <= clock; v += 60 {
				if !s.wild && match(v) {
					runs = append(runs, r.Add(time.Second))
				}
			}
			virtual = clock
		case diff <= 0 && diff > -180: // went back: wildcard jobs only, until caught up
			run = s.wild && match(clock)
		default:
			panic(fmt.Sprint("unexpected clock change ", diff))
		}
		if run {
			runs = append(runs, r.Add(time.Second))
		}
	}
	return runs
}

// TestCronDST: on each day the clock changes, every run cron starts
// computes a slot Between lists, every slot Between lists is computed by a
// run, and runs that are distinct for cron get distinct slots (except the
// catch-up of several fixed minutes of a gap, all at the same moment).
func TestCronDST(t *testing.T) {
	for _, day := range []struct{ zone, day string }{
		{"Europe/Berlin", "2026-03-29"}, {"Europe/Berlin", "2026-10-25"},
		{"America/New_York", "2026-03-08"}, {"America/New_York", "2026-11-01"},
	} {
		for _, spec := range []string{
			"30 2 * * *", "30 1 * * *", "0,30 2 * * *", "0 2,3 * * *", "59 1 * * *", "0 3 * * *",
			"*/15 * * * *", "* 2 * * *", "* 1 * * *", "30 * * * *", "@hourly", "@daily", "* * * * *",
		} {
			loc := zone(t, day.zone)
			s := mustParse(t, spec)
			d, _ := time.ParseInLocation("2006-01-02", day.day, loc)
			from, to := d.Add(-6*time.Hour), d.Add(30*time.Hour)
			var got []string
			prev := ""
			for _, r := range cronRuns(s, loc, from, to) {
				k := Key(s.Slot(r, DefaultTolerance))
				if k == prev && s.wild {
					t.Errorf("%s %s %q: two runs get slot %s", day.zone, day.day, spec, k)
				}
				if k != prev {
					got = append(got, k)
				}
				prev = k
			}
			want := keys(s.Between(from.Add(-time.Second), to.Add(-time.Second), 10000))
			if !slices.Equal(got, want) {
				t.Errorf("%s %s %q:\nruns' slots %v\nBetween     %v", day.zone, day.day, spec, got, want)
			}
			// Next walks the same slots.
			var next []string
			for n := s.Next(from.Add(-time.Second)); position(n, loc) < to.Unix(); n = s.Next(n) {
				next = append(next, Key(n))
				if len(next) > 10000 {
					break
				}
				if n.Location() != loc { // a gap slot: continue from where cron runs it
					n = time.Unix(position(n, loc), 0).In(loc)
					if nn := s.Next(n); position(nn, loc) >= to.Unix() {
						break
					} else {
						next = append(next, Key(nn))
						n = nn
					}
				}
			}
			if !slices.Equal(next, want) {
				t.Errorf("%s %s %q:\nNext    %v\nBetween %v", day.zone, day.day, spec, next, want)
			}
		}
	}
}

func TestBetween(t *testing.T) {
	ber := zone(t, "Europe/Berlin")
	for _, tc := range []struct {
		spec, from, to string
		max            int
		want           string
	}{
		{"30 2 * * *", "2026-03-28T12:00:00+01:00", "2026-03-30T12:00:00+02:00", 10,
			"2026-03-29T02:30:00+02:00 2026-03-30T02:30:00+02:00"},
		{"30 2 * * *", "2026-10-24T12:00:00+02:00", "2026-10-26T12:00:00+01:00", 10,
			"2026-10-25T02:30:00+02:00 2026-10-26T02:30:00+01:00"},
		{"*/30 2 * * *", "2026-10-25T00:00:00+02:00", "2026-10-25T04:00:00+01:00", 10,
			"2026-10-25T02:00:00+02:00 2026-10-25T02:30:00+02:00 2026-10-25T02:00:00+01:00 2026-10-25T02:30:00+01:00"},
		{"* 2 * * *", "2026-03-29T00:00:00+01:00", "2026-03-29T12:00:00+02:00", 10, ""},
		// (from, to]: from excluded, to included; max.
		{"*/5 * * * *", "2026-05-04T12:00:00+02:00", "2026-05-04T12:10:00+02:00", 10,
			"2026-05-04T12:05:00+02:00 2026-05-04T12:10:00+02:00"},
		{"*/5 * * * *", "2026-05-04T12:00:00+02:00", "2026-05-04T13:00:00+02:00", 3,
			"2026-05-04T12:05:00+02:00 2026-05-04T12:10:00+02:00 2026-05-04T12:15:00+02:00"},
		// From a stored key of a gap slot (parsed back with its fixed
		// offset): it is not counted again.
		{"0,30 1,2 * * *", "2026-03-29T02:30:00+02:00", "2026-03-29T12:00:00+02:00", 10, ""},
		{"0,30 1,2 * * *", "2026-03-29T01:30:00+01:00", "2026-03-29T12:00:00+02:00", 10, "2026-03-29T02:30:00+02:00"},
	} {
		s := mustParse(t, tc.spec)
		from, _ := time.Parse(time.RFC3339, tc.from)
		got := strings.Join(keys(s.Between(from, tm(t, ber, tc.to), tc.max)), " ")
		if got != tc.want {
			t.Errorf("%q (%s, %s]:\ngot  %s\nwant %s", tc.spec, tc.from, tc.to, got, tc.want)
		}
	}
}

func TestNext(t *testing.T) {
	ber := zone(t, "Europe/Berlin")
	for _, tc := range []struct{ spec, after, want string }{
		{"30 2 * * *", "2026-05-04T02:30:00+02:00", "2026-05-05T02:30:00+02:00"},
		{"30 2 * * *", "2026-05-04T02:29:59+02:00", "2026-05-04T02:30:00+02:00"},
		{"30 2 * * *", "2026-03-29T01:00:00+01:00", "2026-03-29T02:30:00+02:00"},
		{"30 2 * * *", "2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"},
		{"*/30 * * * *", "2026-10-25T02:45:00+02:00", "2026-10-25T02:00:00+01:00"},
		{"*/30 * * * *", "2026-10-25T02:15:00+01:00", "2026-10-25T02:30:00+01:00"},
		{"0 0 29 2 *", "2026-05-04T00:00:00+02:00", "2028-02-29T00:00:00+01:00"},
		{"0 0 29 2 *", "2097-01-01T00:00:00+01:00", "2104-02-29T00:00:00+01:00"},
		{"@weekly", "2026-05-04T00:00:00+02:00", "2026-05-10T00:00:00+02:00"},
	} {
		s := mustParse(t, tc.spec)
		if got := Key(s.Next(tm(t, ber, tc.after))); got != tc.want {
			t.Errorf("%q after %s: %s, want %s", tc.spec, tc.after, got, tc.want)
		}
	}
}

func TestShortestInterval(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want time.Duration
	}{
		{"* * * * *", time.Minute},
		{"*/15 * * * *", 15 * time.Minute},
		{"0,50 * * * *", 10 * time.Minute},
		{"30 2 * * *", 24 * time.Hour},
		{"0 23 * * *", 24 * time.Hour},
		{"59 23 * * *", 24 * time.Hour},
		{"0 22,23 * * *", time.Hour},
		{"0 23,0 * * *", time.Hour},
		{"@hourly", time.Hour},
		{"@weekly", 7 * 24 * time.Hour},
		{"0 0 * * 1,2", 24 * time.Hour},
		{"@monthly", 28 * 24 * time.Hour},
		{"0 0 31 * *", 31 * 24 * time.Hour}, // Jul 31 - Aug 31, Dec 31 - Jan 31
		{"@yearly", 365 * 24 * time.Hour},
		{"0 0 29 2 *", (4*365 + 1) * 24 * time.Hour},
	} {
		if got := mustParse(t, tc.spec).ShortestInterval(); got != tc.want {
			t.Errorf("%q: %v, want %v", tc.spec, got, tc.want)
		}
	}
}

func TestCheckTolerance(t *testing.T) {
	for _, tc := range []struct {
		spec string
		tol  time.Duration
		want string
	}{
		{"* * * * *", DefaultTolerance, ""},
		{"* * * * *", 30 * time.Second, ""},
		{"* * * * *", 31 * time.Second, `schedule "* * * * *" runs every 1m0s: too often for a slot tolerance of 31s`},
		{"*/5 * * * *", 3 * time.Minute, `schedule "*/5 * * * *" runs every 5m0s: too often for a slot tolerance of 3m0s`},
		{"30 2 * * *", time.Hour, ""},
	} {
		err := CheckTolerance(mustParse(t, tc.spec), tc.tol)
		if got := fmt.Sprint(err); (err == nil && tc.want != "") || (err != nil && got != tc.want) {
			t.Errorf("%q %v: %v, want %q", tc.spec, tc.tol, err, tc.want)
		}
	}
}

func BenchmarkSlot(b *testing.B) {
	loc := zone(b, "Europe/Berlin")
	now := time.Date(2026, 5, 4, 12, 34, 56, 0, loc)
	for _, spec := range []string{"* * * * *", "30 2 * * *", "0 0 1 1 *", "0 0 29 2 *"} {
		s := mustParse(b, spec)
		b.Run(spec, func(b *testing.B) {
			for b.Loop() {
				s.Slot(now, DefaultTolerance)
			}
		})
	}
}
