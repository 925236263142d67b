// Package schedule reads a cron schedule as Debian's cron does and computes
// a job's slots: the minutes cron runs it, each keyed so that every host
// cron fires for the same run computes the same key (cronguard claims the
// key once, fleet-wide).
//
// Everything is computed in a Location, the host's local zone as cron's:
// Slot uses now's, Next after's, Between to's. A spec matches naive
// wall-clock minutes W (year..minute, no zone); a matching W becomes slots
// as Debian's cron runs it (cron.8, "DAYLIGHT SAVING TIME AND OTHER TIME
// CHANGES", for changes of less than 3 hours). A job is a wildcard job when
// its minute or hour field starts with "*" (cron's MIN_STAR, HR_STAR;
// @hourly is one), a fixed-time job otherwise.
//
//   - W exists once: one slot, that instant, run then.
//   - W is skipped (spring forward, e.g. 02:30 on 2026-03-29 in
//     Europe/Berlin): a wildcard job has no slot (cron does not run it).
//     A fixed-time job has one slot, keyed by W with the offset in force
//     after the gap ("2026-03-29T02:30:00+02:00", returned in a fixed zone
//     of that offset, so its instant is W minus that offset), run when the
//     gap ends: cron runs the gap's fixed-time jobs right after the jump.
//     When several minutes of the gap match (or the gap's minutes and the
//     first minute after it), cron runs them all at that moment and each
//     run computes the latest: only the latest is a slot.
//   - W is repeated (fall back): a fixed-time job has one slot, the first
//     pass (cron does not run fixed-time jobs again in the repeated
//     interval); a wildcard job has two, the first pass and the second,
//     distinct keys by their offsets ("02:30:00+02:00", "02:30:00+01:00").
//
// Slots are ordered by the instant cron runs them, then by W. Slot(now,
// tolerance) is the latest slot run at or before now+tolerance. At every
// instant cron starts the job (a few seconds either side) this is the
// latest W <= wall(now+tolerance) resolved as above: a skipped W with the
// offset after the gap; a repeated W with the offset in force at
// now+tolerance (the first pass during the first pass, the second during
// the second) for a wildcard job, the first pass for a fixed-time job. A
// run at another time (by hand) gets the slot cron ran last, so it finds
// it claimed. Next and Between list the same slots; a slot of the gap is
// "after" a time by where cron runs it, at the end of the gap, though its
// instant lies before the gap: compare slots by Key, not by instant.
//
// The search steps through months, then days, then hours, then minutes
// with the fields' bitsets: it never walks a year minute by minute.
package schedule
