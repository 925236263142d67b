package schedule

import (
	"fmt"
	"time"
)

// DefaultTolerance is how far ahead of the clock Slot looks. It balances
// two risks. Too small, and a run that reads the clock a little before
// its minute (a cron daemon that wakes early, a host whose clock lags the
// others by a few seconds) computes the previous slot, which is already
// claimed: the run is skipped as already_ran and the slot it was meant
// for is missed. Too large, and a run that starts late (a slow start, a
// loaded host) within the tolerance of the next matching minute claims
// that next slot, so the next real run is skipped. 10 s covers the skew of
// NTP-synchronized hosts and cron's wake-up with room to spare, and a run
// must be more than (interval - 10 s) late to steal the next slot.
const DefaultTolerance = 10 * time.Second

// CheckTolerance refuses a tolerance of at least half the schedule's
// shortest interval: a late run could then claim the following slot.
func CheckTolerance(s *Schedule, tol time.Duration) error {
	if iv := s.ShortestInterval(); iv < 2*tol {
		return fmt.Errorf("schedule %q runs every %v: too often for a slot tolerance of %v", s.spec, iv, tol)
	}
	return nil
}

// Key is the slot as stored: RFC 3339 with the offset, e.g.
// "2026-03-29T02:30:00+02:00" (a slot in a spring-forward gap keeps its
// wall-clock time and carries the offset in force after the gap).
func Key(slot time.Time) string {
	return slot.Format(time.RFC3339)
}

// slot is one slot: the time it is keyed by (time.Time, with the offset to
// format) and run, the instant (Unix seconds) from which cron runs it; they
// differ only for a slot in a spring-forward gap, run when the gap ends.
type slot struct {
	at  time.Time
	run int64
}

// resolution of a wall minute in a Location.
type resolution struct {
	kind   int   // unique, gap or ambiguous
	i1, i2 int64 // unique: i1; ambiguous: i1 first pass, i2 second; gap: i1 keyed instant (W - after), i2 the change
	before int   // offset before the change (gap)
	after  int   // offset after the change (gap)
	name   string
}

const (
	unique = iota
	gap
	ambiguous
)

func offsetAt(loc *time.Location, unix int64) (string, int) {
	return time.Unix(unix, 0).In(loc).Zone()
}

// resolve finds the instants a wall minute w (naive seconds) has in loc,
// assuming at most one offset change within a day of it.
func resolve(w int64, loc *time.Location) resolution {
	_, oE := offsetAt(loc, w-86400)
	_, oL := offsetAt(loc, w+86400)
	if oE == oL {
		return resolution{kind: unique, i1: w - int64(oE)}
	}
	_, o1 := offsetAt(loc, w-int64(oE))
	_, o2 := offsetAt(loc, w-int64(oL))
	v1, v2 := o1 == oE, o2 == oL
	switch {
	case v1 && v2:
		a, b := w-int64(oE), w-int64(oL)
		if a > b {
			a, b = b, a
		}
		return resolution{kind: ambiguous, i1: a, i2: b}
	case v1:
		return resolution{kind: unique, i1: w - int64(oE)}
	case v2:
		return resolution{kind: unique, i1: w - int64(oL)}
	}
	t := time.Unix(w-int64(oE), 0).In(loc) // after the change
	start, _ := t.ZoneBounds()
	name, _ := t.Zone()
	return resolution{kind: gap, i1: w - int64(oL), i2: start.Unix(), before: oE, after: oL, name: name}
}

func (r resolution) gapSlot(w int64) slot {
	return slot{time.Unix(r.i1, 0).In(time.FixedZone(r.name, r.after)), r.i2}
}

func at(loc *time.Location, unix int64) slot {
	return slot{time.Unix(unix, 0).In(loc), unix}
}

func floorMinute(w int64) int64 {
	m := w % 60
	if m < 0 {
		m += 60
	}
	return w - m
}

// latest returns the slot cron runs last at or before instant t (the
// slot with the greatest run instant <= t, the later wall minute among
// equals).
func (s *Schedule) latest(loc *time.Location, t int64) (slot, bool) {
	tt := time.Unix(t, 0).In(loc)
	_, ot := tt.Zone()
	w0 := floorMinute(t + int64(ot))
	w := w0
	// In the second pass of a repeated interval [A, B) (wall), the first
	// passes of the whole interval are already past.
	if start, _ := tt.ZoneBounds(); !start.IsZero() {
		S := start.Unix()
		if _, oPrev := offsetAt(loc, S-1); oPrev > ot && t+int64(ot) < S+int64(oPrev) {
			A, B := S+int64(ot), S+int64(oPrev)
			if s.wild {
				if W, ok := s.prevWall(w0); ok && W >= A {
					return at(loc, W-int64(ot)), true
				}
			}
			w = floorMinute(B - 1)
		}
	}
	for range 1000 {
		W, ok := s.prevWall(w)
		if !ok {
			return slot{}, false
		}
		r := resolve(W, loc)
		switch r.kind {
		case unique:
			return at(loc, r.i1), true
		case gap:
			if !s.wild {
				return r.gapSlot(W), true
			}
			w = r.i2 + int64(r.before) - 60 // the last minute before the gap
		case ambiguous:
			if s.wild && r.i2 <= t {
				return at(loc, r.i2), true
			}
			if r.i1 <= t {
				return at(loc, r.i1), true
			}
			w = W - 60
		}
	}
	return slot{}, false
}

// earliest returns the slot cron runs first after instant t (run > t).
func (s *Schedule) earliest(loc *time.Location, t int64) (slot, bool) {
	tt := time.Unix(t, 0).In(loc)
	_, ot := tt.Zone()
	w := floorMinute(t+int64(ot)) + 60
	// A fall-back ahead: the second passes of its interval [A, B) come
	// after the first passes and before B.
	fallAhead := false
	var A, B, oN int64
	if _, end := tt.ZoneBounds(); !end.IsZero() {
		_, n := end.Zone()
		if n < ot {
			fallAhead = true
			oN = int64(n)
			A, B = end.Unix()+oN, end.Unix()+int64(ot)
		}
	}
	for range 1000 {
		W, ok := s.nextWall(w)
		if !ok {
			return slot{}, false
		}
		if fallAhead && s.wild && W >= B {
			fallAhead = false
			if c, ok := s.nextWall(A); ok && c < B && c-oN > t {
				return at(loc, c-oN), true
			}
		}
		r := resolve(W, loc)
		switch r.kind {
		case unique:
			return at(loc, r.i1), true
		case gap:
			end := r.i2 + int64(r.after) // the first wall minute after the gap
			if s.wild {
				w = end
				continue
			}
			// Cron runs every fixed-time minute of the gap when it
			// ends, and each run's slot is the latest: only the last
			// one is a slot.
			if nx, ok := s.nextWall(W + 60); ok && nx <= end {
				w = nx
				continue
			}
			return r.gapSlot(W), true
		case ambiguous:
			if r.i1 > t {
				return at(loc, r.i1), true
			}
			if s.wild && r.i2 > t {
				return at(loc, r.i2), true
			}
			w = W + 60
		}
	}
	return slot{}, false
}

// Slot returns the job's slot for a run at now: the slot cron runs last
// at or before now+tolerance, in now's Location (see the package doc). It
// returns the zero Time only if nothing matches within 10 years.
func (s *Schedule) Slot(now time.Time, tolerance time.Duration) time.Time {
	sl, _ := s.latest(now.Location(), now.Add(tolerance).Unix())
	return sl.at
}

// position is the instant from which cron runs the slot t: t itself,
// except for a slot in a spring-forward gap of loc (a time whose offset
// is not loc's at its instant, and whose wall clock falls in a gap of loc
// that ends in that offset), run when the gap ends.
func position(t time.Time, loc *time.Location) int64 {
	_, o := t.Zone()
	if _, ol := offsetAt(loc, t.Unix()); o != ol {
		w := floorMinute(t.Unix() + int64(o))
		if r := resolve(w, loc); r.kind == gap && r.after == o {
			return r.i2
		}
	}
	return t.Unix()
}

// Next returns the first slot cron runs after `after` (strictly), in
// after's Location. A slot in a spring-forward gap is run when the gap
// ends, so it may be Next of a time later than its own instant. A time
// holding a slot key parsed back (its offset not after's Location's) is
// placed where the slot runs only if its Location has the gap: use Between
// with to in the host's zone to continue from a stored key. It returns the
// zero Time if nothing matches within 10 years.
func (s *Schedule) Next(after time.Time) time.Time {
	loc := after.Location()
	sl, _ := s.earliest(loc, position(after, loc))
	return sl.at
}

// Between returns the slots cron runs in (from, to], at most max, in
// order, computed in to's Location. from may be a slot parsed from a Key
// (with whatever offset Parse gives it): a slot in a spring-forward gap is
// placed where cron runs it, at the end of the gap.
func (s *Schedule) Between(from, to time.Time, max int) []time.Time {
	loc := to.Location()
	pos, end := position(from, loc), position(to, loc)
	var out []time.Time
	for len(out) < max {
		sl, ok := s.earliest(loc, pos)
		if !ok || sl.run > end {
			break
		}
		out = append(out, sl.at)
		pos = sl.run
	}
	return out
}

// ShortestInterval returns the smallest wall-clock gap between consecutive
// matching minutes (a clock change aside): the smallest gap within a day,
// and from a day's last match to the first of the next matching day, over
// 2000-2032, which holds every combination of leap year and weekday.
func (s *Schedule) ShortestInterval() time.Duration {
	var times []int // minutes of the day
	for h := range 24 {
		if s.hour&(1<<h) == 0 {
			continue
		}
		for m := range 60 {
			if s.minute&(1<<m) != 0 {
				times = append(times, h*60+m)
			}
		}
	}
	best := int64(-1)
	for i := 1; i < len(times); i++ {
		if g := int64(times[i] - times[i-1]); best < 0 || g < best {
			best = g
		}
	}
	dayGap := int64(-1)
	prev := int64(-1)
	for y := 2000; y <= 2032; y++ {
		for m := 1; m <= 12; m++ {
			if s.month&(1<<m) == 0 {
				continue
			}
			for d := 1; d <= daysIn(y, m); d++ {
				if !s.dayMatches(y, m, d) {
					continue
				}
				day := daysFromCivil(y, m, d)
				if prev >= 0 && (dayGap < 0 || day-prev < dayGap) {
					dayGap = day - prev
				}
				prev = day
			}
		}
	}
	if dayGap > 0 {
		wrap := dayGap*1440 - int64(times[len(times)-1]-times[0])
		if best < 0 || wrap < best {
			best = wrap
		}
	}
	return time.Duration(best) * time.Minute
}
