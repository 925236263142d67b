package session

import "testing"

func TestHostProviderPausesOnlyAfterAFailedPass(t *testing.T) {
	for _, n := range []int{1, 3} {
		servers := make([]string, n)
		for i := range servers {
			servers[i] = string(rune('a' + i))
		}
		hp := &hostProvider{}
		hp.Init(servers)
		// First connect: one pass without pause, then a pause per pass.
		for i := 0; i < 3*n; i++ {
			_, retry := hp.Next()
			if want := i >= n && i%n == 0; retry != want {
				t.Fatalf("n=%d first connect, try %d: retryStart=%v, want %v", n, i, retry, want)
			}
		}
		hp.Connected()
		// After a success, the reconnect starts at once.
		if _, retry := hp.Next(); retry {
			t.Fatalf("n=%d: first reconnect after a success pauses", n)
		}
		seen := map[string]bool{}
		for i := 0; i < n; i++ {
			s, _ := hp.Next()
			seen[s] = true
		}
		if len(seen) != n {
			t.Fatalf("n=%d: a pass visited %d servers", n, len(seen))
		}
	}
}
