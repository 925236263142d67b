package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/cronguard/cronguard/schedule"
)

// maxGrace bounds the default grace of `check` without --max-age: how
// long after a slot begins its claim must be in the run record before the
// slot counts as missed. The claim is written before the job starts, so it
// lands within a second of cron firing, later only after --splay, --wait
// or a slow start; 10 minutes absorbs all of that on a loaded fleet.
// The default is also at most half the schedule's shortest interval (30 s
// for a job every minute): the ledger keeps only the last claimed slot,
// so a missed slot can be reported only until the next slot is claimed,
// and half the interval leaves the other half for monitoring to see it
// (the metrics' missed-slot counter keeps every miss for good).
const maxGrace = 10 * time.Minute

// maxSlotsCounted caps how many slots are listed between two points of a
// ledger (a job stopped for months): the count reads "N+" beyond it.
const maxSlotsCounted = 10000

// defaultGrace is the grace for a schedule when --grace is not given.
func defaultGrace(s *schedule.Schedule) time.Duration {
	return min(maxGrace, s.ShortestInterval()/2)
}

// recordZone is the zone the job's hosts compute its slots in: the
// record's tz, or this host's when it names none or a zone unknown here
// (then note says so).
func recordZone(tz string) (loc *time.Location, note string) {
	if tz == "" {
		return time.Local, ""
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return time.Local, fmt.Sprintf("zone %q unknown here: slots computed in local time", tz)
	}
	return loc, ""
}

// slotVerdict is what `check` says of a scheduled job.
type slotVerdict struct {
	state  int
	text   string // without the "CRONGUARD STATE - " prefix
	missed int    // due slots with no claim
}

func countText(n int) string {
	if n >= maxSlotsCounted {
		return fmt.Sprintf("%d+", n)
	}
	return fmt.Sprint(n)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// judgeSchedule decides from the ledger whether the job ran its slots. A
// slot is due once it began more than grace ago (a grace of 0 means the
// schedule's default). Claims only move forward, so every due slot after
// the last claimed one had no run anywhere in the fleet: CRITICAL,
// "missed". A job registered but never run is judged from the slot in force
// when it was registered (created, the record node's creation). With no
// slot missed, the last slot that ended decides: failure is WARNING,
// success OK; a slot still running is OK (a run that overruns its next
// slot makes that slot missed when the lock keeps it from running).
func judgeSchedule(lock string, rec *runRecord, created, now time.Time, grace time.Duration) slotVerdict {
	s, err := schedule.Parse(rec.Schedule)
	if err != nil {
		return slotVerdict{state: checkUnknown, text: fmt.Sprintf("%s: the run record's schedule: %v", lock, err)}
	}
	if grace <= 0 {
		grace = defaultGrace(s)
	}
	loc, note := recordZone(rec.TZ)
	due := now.Add(-grace).In(loc)
	key := func(t time.Time) string { return schedule.Key(t) }
	v := slotVerdict{}
	finish := func() slotVerdict {
		if note != "" {
			v.text += " (" + note + ")"
		}
		return v
	}
	c := rec.LastSlot
	if c == nil {
		from := created.Add(-schedule.DefaultTolerance).In(loc)
		missed := s.Between(from, due, maxSlotsCounted)
		if v.missed = len(missed); v.missed > 0 {
			v.state = checkCritical
			v.text = fmt.Sprintf("%s never ran: %s %s missed since it was registered %s, the first %s (grace %s)",
				lock, countText(v.missed), plural(v.missed, "slot", "slots"), created.UTC().Format(time.RFC3339), key(missed[0]), grace)
			return finish()
		}
		v.text = fmt.Sprintf("%s registered %s, never ran; first slot %s", lock, created.UTC().Format(time.RFC3339), key(s.Next(from)))
		return finish()
	}
	if missed := s.Between(c.Slot, due, maxSlotsCounted); len(missed) > 0 {
		v.missed = len(missed)
		v.state = checkCritical
		v.text = fmt.Sprintf("%s: slot %s missed", lock, key(missed[0]))
		if v.missed > 1 {
			v.text += fmt.Sprintf(" and %s more to %s", countText(v.missed-1), key(missed[len(missed)-1]))
		}
		v.text += fmt.Sprintf(" (grace %s); last claimed slot %s on %s: %s", grace, key(c.Slot), c.Host, c.Outcome)
		return finish()
	}
	// Nothing missed: the last slot that ended decides.
	switch c.Outcome {
	case outcomeSuccess:
		v.text = fmt.Sprintf("%s: last slot %s succeeded on %s", lock, key(c.Slot), c.Host)
	case outcomeFailure:
		v.state = checkWarning
		v.text = fmt.Sprintf("%s: last slot %s failed on %s%s", lock, key(c.Slot), c.Host, exitText(c.Exit))
	default:
		v.text = fmt.Sprintf("%s: slot %s running on %s since %s", lock, key(c.Slot), c.Host, c.Claimed.UTC().Format(time.RFC3339))
		if p := previousSlotRun(rec, c.Slot); p != nil && p.Exit != 0 {
			v.state = checkWarning
			v.text += fmt.Sprintf("; the slot before, %s, failed on %s: exit %d", key(*p.Slot), p.Host, p.Exit)
		}
	}
	v.text += "; next slot " + key(s.Next(now.In(loc)))
	return finish()
}

func exitText(exit *int) string {
	if exit == nil {
		return ""
	}
	return fmt.Sprintf(": exit %d", *exit)
}

// previousSlotRun is the newest run in the history that ran a slot other
// than slot: the last slot that ended while slot runs.
func previousSlotRun(rec *runRecord, slot time.Time) *runEntry {
	for i := range rec.History {
		h := &rec.History[i]
		if h.Slot != nil && schedule.Key(*h.Slot) != schedule.Key(slot) {
			return h
		}
	}
	return nil
}

// slotPerf is the perfdata of a schedule check: missed slots, the age of
// the last success, and the last run's duration and exit as today.
func slotPerf(rec *runRecord, v slotVerdict, now time.Time) string {
	p := []string{fmt.Sprintf("missed=%d", v.missed)}
	if s := rec.LastSuccess; s != nil {
		p = append(p, fmt.Sprintf("age=%ds", int64(now.Sub(s.End).Seconds())))
	}
	if r := rec.LastRun; r != nil {
		p = append(p, fmt.Sprintf("last_duration=%.3fs last_exit=%d", float64(r.DurationMS)/1000, r.Exit))
	}
	return strings.Join(p, " ")
}

// slotsWithoutSuccess counts the slots due by now (begun more than the
// schedule's default grace ago, as check counts them) since the job's last
// successful slot (since it was registered, when none succeeded) that did
// not succeed: missed or failed; a slot still running is not counted.
func slotsWithoutSuccess(s *schedule.Schedule, rec *runRecord, created, now time.Time, loc *time.Location) int {
	from := created.Add(-schedule.DefaultTolerance).In(loc)
	switch {
	case rec.LastSlot != nil && rec.LastSlot.Outcome == outcomeSuccess:
		from = rec.LastSlot.Slot
	case rec.LastSuccess != nil && rec.LastSuccess.Slot != nil:
		from = *rec.LastSuccess.Slot
	}
	slots := s.Between(from, now.Add(-defaultGrace(s)).In(loc), maxSlotsCounted)
	n := len(slots)
	if c := rec.LastSlot; c != nil && c.Outcome == outcomeRunning {
		for _, t := range slots {
			if schedule.Key(t) == schedule.Key(c.Slot) {
				n--
				break
			}
		}
	}
	return n
}
