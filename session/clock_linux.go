//go:build linux

package session

import "golang.org/x/sys/unix"

// bootNow reads CLOCK_BOOTTIME: unlike Go's monotonic clock it keeps counting
// while the machine is suspended, and ZooKeeper's session clock keeps running
// on the server while we sleep.
func bootNow() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return monoNow()
	}
	return ts.Nano()
}
