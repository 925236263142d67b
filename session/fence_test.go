package session

import (
	"context"
	"testing"
	"time"
)

func TestFenceDeadlines(t *testing.T) {
	const ms = int64(time.Millisecond)
	for _, tc := range []struct {
		name         string
		f            Fence
		last         int64
		alarm, kill  int64
		tooShort     bool
		heartbeatDur time.Duration
	}{
		{"default slack T/3", Fence{Timeout: 3 * time.Second}, 1000 * ms, 2000 * ms, 3000 * ms, false, 300 * time.Millisecond},
		{"explicit slack", Fence{Timeout: 30 * time.Second, Slack: 10 * time.Second}, 0, 10000 * ms, 20000 * ms, false, 3 * time.Second},
		{"slack leaves no grace", Fence{Timeout: 3 * time.Second, Slack: 2 * time.Second}, 0, 1000 * ms, 1000 * ms, true, 300 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.f.AlarmAt(tc.last); got != tc.alarm {
				t.Errorf("AlarmAt = %v, want %v", time.Duration(got), time.Duration(tc.alarm))
			}
			if got := tc.f.KillAt(tc.last); got != tc.kill {
				t.Errorf("KillAt = %v, want %v", time.Duration(got), time.Duration(tc.kill))
			}
			if got := tc.f.TooShort(); got != tc.tooShort {
				t.Errorf("TooShort = %v, want %v", got, tc.tooShort)
			}
			if got := tc.f.HeartbeatPeriod(); got != tc.heartbeatDur {
				t.Errorf("HeartbeatPeriod = %v, want %v", got, tc.heartbeatDur)
			}
		})
	}
}

func TestLossKillBy(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	grace := 10 * time.Second
	for _, tc := range []struct {
		name string
		loss Loss
		want time.Time
	}{
		{"definite loss: at once", Loss{Now: true, KillAt: now.Add(time.Hour)}, now},
		{"no fence deadline: the grace", Loss{}, now.Add(grace)},
		{"fence deadline before the grace", Loss{KillAt: now.Add(2 * time.Second)}, now.Add(2 * time.Second)},
		{"fence deadline after the grace", Loss{KillAt: now.Add(time.Minute)}, now.Add(grace)},
	} {
		if got := tc.loss.KillBy(now, grace); !got.Equal(tc.want) {
			t.Errorf("%s: KillBy = %v, want %v", tc.name, got.Sub(now), tc.want.Sub(now))
		}
	}
}

// fakeClock drives watchFence: sleeping advances time, and answers
// scheduled at given times move "last answered" forward.
type fakeClock struct {
	now     int64
	answers map[int64]int64 // at time k, the last answer becomes v
	last    int64
}

func (c *fakeClock) sleep(ctx context.Context, done <-chan struct{}, d time.Duration) bool {
	target := c.now + int64(d)
	for at, v := range c.answers {
		if at > c.now && at <= target && v > c.last {
			c.last = v
		}
	}
	c.now = target
	return true
}

func TestWatchFenceFakeClock(t *testing.T) {
	const sec = int64(time.Second)
	T := 3 * time.Second
	fence := func() Fence { return Fence{Timeout: T} }
	for _, tc := range []struct {
		name      string
		answers   map[int64]int64
		wantAlarm int64 // fake time at which the fence fires
		wantKill  int64 // boot-clock KillAt relative to the last answer
	}{
		{"silence from the start", nil, 1 * sec, 2 * sec},
		// A heartbeat answered every 300 ms until 4.8 s: alarm at 4.8+1.
		{"answers then silence", heartbeats(300*time.Millisecond, 48*sec/10), 58 * sec / 10, 48*sec/10 + 2*sec},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &fakeClock{answers: tc.answers}
			loss := watchFence(context.Background(), nil, fence, func() int64 { return c.last }, func() int64 { return c.now }, c.sleep)
			if loss == nil || loss.Reason != ReasonFence || loss.Now {
				t.Fatalf("loss = %+v, want a fence", loss)
			}
			if c.now != tc.wantAlarm {
				t.Errorf("fired at %v, want %v", time.Duration(c.now), time.Duration(tc.wantAlarm))
			}
			if got := fence().KillAt(c.last); got != tc.wantKill {
				t.Errorf("kill at %v, want %v", time.Duration(got), time.Duration(tc.wantKill))
			}
		})
	}
	// A cancelled watch never fires.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	stop := func(ctx context.Context, _ <-chan struct{}, _ time.Duration) bool { return ctx.Err() == nil }
	if loss := watchFence(ctx, nil, fence, func() int64 { return 0 }, func() int64 { return 0 }, stop); loss != nil {
		t.Fatalf("cancelled watch fired %+v", loss)
	}
}

// heartbeats answers a request sent every period, up to until, at once.
func heartbeats(period time.Duration, until int64) map[int64]int64 {
	m := map[int64]int64{}
	for at := int64(period); at <= until; at += int64(period) {
		m[at] = at
	}
	return m
}
