package schedule

import (
	"errors"
	"fmt"
	"math/bits"
	"strings"
	"time"
)

// Schedule is a parsed cron spec: one bitset per field, and the flags
// Debian's cron derives from the fields' first characters.
type Schedule struct {
	spec   string // normalized, as Check returns it
	minute uint64 // bits 0-59
	hour   uint32 // bits 0-23
	dom    uint32 // bits 1-31
	month  uint16 // bits 1-12
	dow    uint8  // bits 0-6, Sunday 0 (7 folded into 0)
	// domStar, dowStar: the field starts with "*" (cron's DOM_STAR,
	// DOW_STAR): then a day matches when both fields match, otherwise when
	// either does.
	domStar, dowStar bool
	// wild: the minute or the hour field starts with "*" (cron's MIN_STAR,
	// HR_STAR): a wildcard job, which cron treats apart when the clock
	// changes (see the package doc).
	wild bool
}

// macros are the @macros as the fields they stand for. @hourly's "*" hour
// makes it a wildcard job, as Debian's cron flags it (HR_STAR).
var macros = map[string]string{
	"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *",
	"@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
	"@daily": "0 0 * * *", "@midnight": "0 0 * * *",
	"@hourly": "0 * * * *",
}

// Parse reads a 5-field cron spec or an @macro, validated as Check does.
// It refuses @reboot ("@reboot has no slots") and a spec that is valid but
// matches no day at all ("0 0 31 2 *": cron accepts it and never runs it).
func Parse(spec string) (*Schedule, error) {
	norm, msg := Check(spec)
	if msg != "" {
		return nil, fmt.Errorf("schedule %q: %s", spec, msg)
	}
	if norm == "@reboot" {
		return nil, errors.New("@reboot has no slots")
	}
	fields := norm
	if m, ok := macros[norm]; ok {
		fields = m
	}
	f := strings.Fields(fields)
	s := &Schedule{spec: norm}
	var b [5]uint64
	for i := range f {
		b[i] = cronFields[i].bits(f[i])
	}
	s.minute, s.hour, s.dom, s.month = b[0], uint32(b[1]), uint32(b[2]), uint16(b[3])
	s.dow = uint8(b[4]&0x7f | b[4]>>7&1)
	s.domStar, s.dowStar = f[2][0] == '*', f[4][0] == '*'
	s.wild = f[0][0] == '*' || f[1][0] == '*'
	if !s.matchesSomeDay() {
		return nil, fmt.Errorf("schedule %q matches no day: cron accepts it and never runs it", spec)
	}
	return s, nil
}

// String returns the spec as Check normalized it.
func (s *Schedule) String() string { return s.spec }

// bits reads a field Check accepted into a bitset of its values.
func (c cronField) bits(field string) uint64 {
	var set uint64
	for _, item := range strings.Split(field, ",") {
		base, stepText, hasStep := strings.Cut(item, "/")
		step := 1
		if hasStep {
			step, _ = cronDigits(stepText)
		}
		lo, hi := c.low, c.max
		if base != "*" {
			first, last, isRange := strings.Cut(base, "-")
			lo, _ = c.value(first)
			hi = lo
			if isRange {
				hi, _ = c.value(last)
			}
		}
		for v := lo; v <= hi; v++ {
			if (v-lo)%step == 0 {
				set |= 1 << v
			}
		}
	}
	return set
}

// matchesSomeDay: with the OR rule (both day fields restricted) every week
// has a matching day; with the AND rule some (month, day-of-month) must
// exist (Feb 29 counts), and then over the 28-year calendar cycle it falls
// on every day of the week.
func (s *Schedule) matchesSomeDay() bool {
	if !s.domStar && !s.dowStar {
		return true
	}
	for m := 1; m <= 12; m++ {
		if s.month&(1<<m) != 0 && s.dom&(1<<(daysIn(2000, m)+1)-1) != 0 {
			return true
		}
	}
	return false
}

// dayMatches applies cron's rule for the two day fields.
func (s *Schedule) dayMatches(y, m, d int) bool {
	domOK := s.dom&(1<<d) != 0
	dowOK := s.dow&(1<<weekday(y, m, d)) != 0
	if s.domStar || s.dowStar {
		return domOK && dowOK
	}
	return domOK || dowOK
}

// Matches reports whether the wall-clock minute of t (in its own
// Location) matches the spec.
func (s *Schedule) Matches(t time.Time) bool {
	y, mo, d := t.Date()
	h, mi, _ := t.Clock()
	return s.month&(1<<mo) != 0 && s.dayMatches(y, int(mo), d) &&
		s.hour&(1<<h) != 0 && s.minute&(1<<mi) != 0
}

// Wall-clock minutes are handled as "naive" seconds: the wall clock read
// as if it were UTC (seconds since 1970-01-01 00:00 wall time), always a
// multiple of 60 here. civil is the same minute as fields.
type civil struct{ y, mo, d, h, mi int }

func toCivil(w int64) civil {
	t := time.Unix(w, 0).UTC()
	y, mo, d := t.Date()
	return civil{y, int(mo), d, t.Hour(), t.Minute()}
}

func (c civil) naive() int64 {
	return daysFromCivil(c.y, c.mo, c.d)*86400 + int64(c.h*3600+c.mi*60)
}

// daysFromCivil counts days since 1970-01-01 (H. Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// weekday returns 0 for Sunday; 1970-01-01 was a Thursday.
func weekday(y, m, d int) int {
	w := (daysFromCivil(y, m, d) + 4) % 7
	if w < 0 {
		w += 7
	}
	return int(w)
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// searchYears bounds a search: the longest gap between matches is 8 years
// (Feb 29 across a century that is not a leap year).
const searchYears = 10

// prevWall returns the latest matching wall minute at or before w (naive
// seconds). It steps by month, then day, then hour, then minute.
func (s *Schedule) prevWall(w int64) (int64, bool) {
	c := toCivil(w)
	limit := c.y - searchYears
	for c.y >= limit {
		if s.month&(1<<c.mo) == 0 {
			c.mo--
			if c.mo == 0 {
				c.y, c.mo = c.y-1, 12
			}
			c.d, c.h, c.mi = daysIn(c.y, c.mo), 23, 59
			continue
		}
		if !s.dayMatches(c.y, c.mo, c.d) {
			c = c.prevDayEnd()
			continue
		}
		hs := s.hour & (2<<c.h - 1)
		if hs == 0 {
			c = c.prevDayEnd()
			continue
		}
		if h := bits.Len32(hs) - 1; h != c.h {
			c.h, c.mi = h, 59
		}
		ms := s.minute & (2<<c.mi - 1)
		if ms == 0 {
			if c.h == 0 {
				c = c.prevDayEnd()
			} else {
				c.h, c.mi = c.h-1, 59
			}
			continue
		}
		c.mi = bits.Len64(ms) - 1
		return c.naive(), true
	}
	return 0, false
}

func (c civil) prevDayEnd() civil {
	c.d--
	if c.d == 0 {
		c.mo--
		if c.mo == 0 {
			c.y, c.mo = c.y-1, 12
		}
		c.d = daysIn(c.y, c.mo)
	}
	c.h, c.mi = 23, 59
	return c
}

// nextWall returns the earliest matching wall minute at or after w (naive
// seconds, a multiple of 60).
func (s *Schedule) nextWall(w int64) (int64, bool) {
	c := toCivil(w)
	limit := c.y + searchYears
	for c.y <= limit {
		if s.month&(1<<c.mo) == 0 {
			c.mo++
			if c.mo == 13 {
				c.y, c.mo = c.y+1, 1
			}
			c.d, c.h, c.mi = 1, 0, 0
			continue
		}
		if !s.dayMatches(c.y, c.mo, c.d) {
			c = c.nextDayStart()
			continue
		}
		hs := s.hour >> c.h << c.h
		if hs == 0 {
			c = c.nextDayStart()
			continue
		}
		if h := bits.TrailingZeros32(hs); h != c.h {
			c.h, c.mi = h, 0
		}
		ms := s.minute >> c.mi << c.mi
		if ms == 0 {
			if c.h == 23 {
				c = c.nextDayStart()
			} else {
				c.h, c.mi = c.h+1, 0
			}
			continue
		}
		c.mi = bits.TrailingZeros64(ms)
		return c.naive(), true
	}
	return 0, false
}

func (c civil) nextDayStart() civil {
	c.d++
	if c.d > daysIn(c.y, c.mo) {
		c.d = 1
		c.mo++
		if c.mo == 13 {
			c.y, c.mo = c.y+1, 1
		}
	}
	c.h, c.mi = 0, 0
	return c
}
