package session

import (
	"fmt"
	"time"
)

// Fence is the fencing rule, in one place. The server expires a session no
// sooner than T after it last heard from the client; s is the send time of
// the last request it answered (CLOCK_BOOTTIME ns, see bootNow).
//
//   - Silence shorter than T/3 after s is tolerated: a leader failover takes
//     about a second and must not kill healthy jobs.
//   - At s + T/3 the job gets SIGTERM (AlarmAt).
//   - It is SIGKILLed no later than s + T - slack (KillAt), where the slack
//     covers scheduling delay and a follower's lag in telling the leader.
//     The run's own kill grace is shortened to fit (Loss.KillBy).
//
// s may be up to one heartbeat (T/10) old when a silence begins, so the
// tolerated silence measured from its start is between T/3 - T/10 and T/3.
type Fence struct {
	Timeout time.Duration // T, the negotiated session timeout
	Slack   time.Duration // 0: T/3
}

// SlackOrDefault is the slack in force.
func (f Fence) SlackOrDefault() time.Duration {
	if f.Slack > 0 {
		return f.Slack
	}
	return f.Timeout / 3
}

// AlarmAt is when a silence since last becomes a fence: last + T/3.
func (f Fence) AlarmAt(last int64) int64 { return last + int64(f.Timeout/3) }

// KillAt is the latest SIGKILL for a fence raised after last: last + T - slack.
func (f Fence) KillAt(last int64) int64 {
	return last + int64(f.Timeout-f.SlackOrDefault())
}

// TooShort reports a slack that leaves a fenced job no grace at all.
func (f Fence) TooShort() bool { return f.SlackOrDefault() >= f.Timeout*2/3 }

// HeartbeatPeriod is T/10: s is then at most about T/10 old on a healthy
// link, far from the T/3 alarm, at ten small requests per session timeout.
func (f Fence) HeartbeatPeriod() time.Duration { return f.Timeout / 10 }

// loss is the fence's Loss for a silence that began after last, seen at now.
func (f Fence) loss(last, now int64) *Loss {
	silence := time.Duration(now - last)
	return &Loss{
		Reason: ReasonFence,
		Detail: fmt.Sprintf("no answer from ZooKeeper for %v (T=%v)", silence.Round(time.Millisecond), f.Timeout),
		KillAt: bootToTime(f.KillAt(last)),
	}
}

// Reason says why the right to run was lost; the values are the contract's
// `stop` reasons.
type Reason string

// Stop reasons raised by the session and the lock.
const (
	ReasonFence          Reason = "fence"
	ReasonSessionExpired Reason = "session_expired"
	ReasonLockLost       Reason = "lock_lost"
)

// Loss is why a job must stop. It is an error: Session.Err and Lock.Err
// return one.
type Loss struct {
	Reason Reason
	Detail string
	// Now asks for SIGKILL at once: someone else may already hold the lock.
	Now bool
	// KillAt is the latest moment for SIGKILL; zero: the caller's grace.
	KillAt time.Time
}

func (l *Loss) Error() string { return string(l.Reason) + ": " + l.Detail }

// Is makes a lost session match ErrExpired.
func (l *Loss) Is(target error) bool {
	return target == ErrExpired && l.Reason == ReasonSessionExpired
}

// KillBy is the SIGKILL deadline for a job stopped for this loss at now with
// the run's kill grace: now for a definite loss, else now + grace but never
// after KillAt. (The supervisor only ever moves a deadline earlier.)
func (l *Loss) KillBy(now time.Time, grace time.Duration) time.Time {
	if l.Now {
		return now
	}
	by := now.Add(grace)
	if !l.KillAt.IsZero() && l.KillAt.Before(by) {
		by = l.KillAt
	}
	return by
}
