package session

import "time"

var processStart = time.Now()

// monoNow is nanoseconds on Go's monotonic clock since process start.
func monoNow() int64 { return int64(time.Since(processStart)) }

// untilBoot converts a CLOCK_BOOTTIME instant into a wall-clock duration from now.
func untilBoot(at int64) time.Duration { return time.Duration(at - bootNow()) }

// bootToTime maps a CLOCK_BOOTTIME instant onto time.Time (monotonic), for
// timers that are armed with time.Until.
func bootToTime(at int64) time.Time { return time.Now().Add(untilBoot(at)) }
