package session

import "sync"

// hostProvider replaces go-zookeeper's DNSHostProvider, which sleeps 1 s
// before the first reconnect whenever the server list has one entry (its
// "full pass" is then a single server). A one-second pause eats most of the
// T/3 budget of the fencing rule, so a routine TCP reset would kill healthy
// jobs. Here, after a connection was made, one full pass over the servers
// runs without pause; only passes that follow a pass with no success sleep
// (the library's 1 s), so a ZooKeeper that is down is not hammered.
//
// It also resolves nothing up front: the dialer resolves each name when it
// connects, so one unresolvable name cannot fail the whole connect.
type hostProvider struct {
	mu      sync.Mutex
	servers []string
	curr    int
	tries   int // Next calls since the last successful connection
}

func (hp *hostProvider) Init(servers []string) error {
	hp.mu.Lock()
	defer hp.mu.Unlock()
	hp.servers = append([]string(nil), servers...)
	hp.curr = -1
	return nil
}

func (hp *hostProvider) Len() int {
	hp.mu.Lock()
	defer hp.mu.Unlock()
	return len(hp.servers)
}

func (hp *hostProvider) Next() (server string, retryStart bool) {
	hp.mu.Lock()
	defer hp.mu.Unlock()
	hp.curr = (hp.curr + 1) % len(hp.servers)
	hp.tries++
	if hp.tries > len(hp.servers) {
		hp.tries = 1
		retryStart = true
	}
	return hp.servers[hp.curr], retryStart
}

func (hp *hostProvider) Connected() {
	hp.mu.Lock()
	defer hp.mu.Unlock()
	hp.tries = 0
}
