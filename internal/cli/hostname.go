package cli

import (
	"bufio"
	"os"
	"strings"
)

// fqdn returns this host's fully qualified name the way switchman's
// Sys::Hostname::FQDN finds it on a typical box: the kernel hostname when it
// already has a dot, else the canonical name of its line in /etc/hosts.
// It does no DNS query: this runs on every cron run, and a slow resolver
// must not delay or break jobs (set `hostname` in the config when the
// FQDN only lives in DNS).
func fqdn() string {
	host, err := os.Hostname()
	if err != nil || strings.Contains(host, ".") {
		return host
	}
	if canon := canonicalFromHosts("/etc/hosts", host); canon != "" {
		return canon
	}
	return host
}

// canonicalFromHosts returns the first name "host.<domain>" on a line of
// the hosts file, the way the resolver's canonical name would read.
func canonicalFromHosts(path, host string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		for _, name := range fields[1:] {
			if strings.HasPrefix(name, host+".") {
				return name
			}
		}
	}
	return ""
}
