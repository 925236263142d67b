//go:build !linux

package session

// bootNow falls back to the monotonic clock where CLOCK_BOOTTIME is missing;
// such a clock stops during suspend, which the README lists as a limit.
func bootNow() int64 { return monoNow() }
