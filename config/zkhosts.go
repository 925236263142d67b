package config

import (
	"net"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DefaultZKPort is used for a zkhosts entry without a port, as ZooKeeper's
// own clients do.
const DefaultZKPort = 2181

// switchmanPrefix is switchman's own check, ^(?:/[^/]+)+$, written out
// (one or more "/" each followed by at least one byte other than "/"):
// compiling the regexp cost every cron run about 0.1 M instructions, a
// tenth of cronguard's start-up. TestSwitchmanPrefixIsTheRegexp holds it
// to the regexp.
func switchmanPrefix(p string) bool {
	return len(p) >= 2 && p[0] == '/' && p[len(p)-1] != '/' && !strings.Contains(p, "//")
}

// ValidatePrefix checks a ZooKeeper path used as cronguard's prefix (or a
// zkhosts chroot): switchman's rule ^(?:/[^/]+)+$, plus what ZooKeeper
// itself would refuse later with a less helpful error ("." and ".."
// components, control and reserved characters, invalid UTF-8).
// The error wraps ErrInvalid and has no subject, e.g.
// `must look like /a/b, got "x/"`.
func ValidatePrefix(p string) error {
	if !switchmanPrefix(p) {
		return plainErr("must look like /a/b, got %q", p)
	}
	if !utf8.ValidString(p) {
		return plainErr("must be valid UTF-8, got %q", p)
	}
	for _, c := range strings.Split(p[1:], "/") {
		if c == "." || c == ".." {
			return plainErr(`must not have "." or ".." components, got %q`, p)
		}
	}
	for _, r := range p {
		// The ranges ZooKeeper's PathUtils.validatePath rejects.
		if r <= 0x1f || (r >= 0x7f && r <= 0x9f) || (r >= 0xf000 && r <= 0xf8ff) || (r >= 0xfff0 && r <= 0xffff) {
			return plainErr("must not contain control or reserved characters, got %q", p)
		}
	}
	return nil
}

// ParseZKHosts splits a ZooKeeper connect string "h1:2181,h2:2181/chroot"
// into "host:port" servers and an optional chroot. A missing port becomes
// 2181; IPv6 addresses need brackets ("[::1]:2181"); spaces around entries
// are ignored; an empty entry is an error. A chroot of just "/" means none,
// as in ZooKeeper's own parser. go-zookeeper does not implement chroots,
// so callers must put the chroot in front of every path themselves
// (Local.Root does that for the prefix).
// Errors wrap ErrInvalid and have no subject, e.g. `has an empty entry ...`.
func ParseZKHosts(s string) (servers []string, chroot string, err error) {
	orig := s
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, "", plainErr("is empty")
	}
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s, chroot = s[:i], s[i:]
		if chroot == "/" {
			chroot = ""
		} else if err := ValidatePrefix(chroot); err != nil {
			return nil, "", plainErr("has a bad chroot: %v", err)
		}
	}
	entries := strings.Split(s, ",")
	for i, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			return nil, "", plainErr("has an empty entry (#%d) in %q", i+1, orig)
		}
		hp, err := parseServer(e)
		if err != nil {
			return nil, "", plainErr("has a bad entry %q: %s", e, err)
		}
		servers = append(servers, hp)
	}
	return servers, chroot, nil
}

func parseServer(e string) (string, error) {
	var host, port string
	hasPort := true
	switch {
	case strings.HasPrefix(e, "[") && strings.HasSuffix(e, "]"):
		host, hasPort = e[1:len(e)-1], false
	case strings.HasPrefix(e, "["):
		h, p, err := net.SplitHostPort(e)
		if err != nil {
			return "", plainErr("want host:port or [ipv6]:port")
		}
		host, port = h, p
	case strings.Count(e, ":") > 1:
		return "", plainErr("an IPv6 address needs brackets, like [::1]:2181")
	case strings.Contains(e, ":"):
		i := strings.IndexByte(e, ':')
		host, port = e[:i], e[i+1:]
	default:
		host, hasPort = e, false
	}
	if host == "" {
		return "", plainErr("no host")
	}
	if strings.IndexFunc(host, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return "", plainErr("the host has spaces or control characters")
	}
	n := DefaultZKPort
	if hasPort {
		var err error
		n, err = strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || port[0] == '+' {
			return "", plainErr("the port must be a number from 1 to 65535")
		}
	}
	return net.JoinHostPort(host, strconv.Itoa(n)), nil
}
