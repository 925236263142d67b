// Package netdomain computes a host's fully qualified name the way Perl's
// Net::Domain::hostfqdn (libnet 3.14, the one switchman 1.16 calls) does on
// Linux, without cgo: it reads /etc/hosts, /etc/resolv.conf and
// /etc/nsswitch.conf itself and uses Go's resolver where glibc's
// gethostbyname would ask DNS.
//
// The order of sources is Net::Domain's:
//
//  1. _hostname: the kernel hostname (uname's nodename; Perl's syscall.ph
//     has no SYS_gethostname on Linux/amd64, so POSIX::uname answers),
//     cleaned of NULs and newlines, leading and trailing dots and runs of
//     dots.
//  2. _hostdomain, first that answers:
//     a. inet_domain in libnet.cfg (/etc/perl/Net/libnet.cfg, the
//     /etc/libnet.cfg it defers to, ~/.libnetrc);
//     b. the last `domain` or `search` line of /etc/resolv.conf (its first
//     word), returned as written;
//     c. gethostbyname of "HOST.NISDOMAIN" (only when the hostname has no
//     dot and the `domainname` command exists: it prints the uname
//     domainname, "(none)" when unset), then of HOST, then of
//     "localhost": the first of their canonical name and aliases with a
//     dot gives the domain (the name minus its first label);
//     d. $LOCALDOMAIN, then $DOMAIN.
//  3. domainname: a dotless host and a dotted domain are joined without a
//     lookup; a hostname that is an IPv4 address is the answer; otherwise
//     the first "PREFIX.SUFFIX" (host label prefixes, longest first, within
//     domain suffixes, longest first, the empty one last) that
//     gethostbyname resolves. Nothing resolves: no answer (Perl's undef).
//
// gethostbyname follows the `hosts:` line of /etc/nsswitch.conf (default
// "files dns"): files reads /etc/hosts (IPv4 lines only, names matched
// without regard to case, the first matching line), dns
// asks Go's resolver (which applies resolv.conf's search list and ndots as
// glibc does) for the canonical name, myhostname answers the kernel
// hostname and localhost names. What cannot be matched is in Limits.
package netdomain

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Limits lists where this port cannot match Net::Domain; the README repeats it.
const Limits = `NIS, LDAP, mdns and other NSS modules (nis, ldap, mdns4*, sss, wins) are not consulted; ` +
	`"resolve" (systemd-resolved) is treated as dns; nsswitch action items ([NOTFOUND=return]) are ignored; ` +
	`libnet.cfg is Perl code: only a literal inet_domain string is read; ` +
	`DNS answers are bounded by a timeout (a resolver slower than that is taken as "not found"); ` +
	`a name with only an AAAA record resolves for Go but not for gethostbyname (IPv4 only); ` +
	`a name that /etc/hosts lists only on IPv6 lines is not asked of DNS`

// Env is where the algorithm reads the machine. Zero fields take the
// real machine's (see System).
type Env struct {
	Nodename    func() (string, error) // uname nodename
	NISDomain   func() (string, bool)  // what `domainname` prints; false when the command is absent
	Getenv      func(string) string
	ResolvConf  string
	Hosts       string
	NSSwitch    string
	LibnetCfg   []string // Perl config files that may set inet_domain, in the order Net::Config reads them (last wins)
	LookupCNAME func(ctx context.Context, name string) (string, error)
	DNSTimeout  time.Duration
}

// System is the real machine.
func System() *Env {
	home := os.Getenv("HOME")
	cfg := []string{"/etc/perl/Net/libnet.cfg"}
	if home != "" {
		cfg = append(cfg, filepath.Join(home, ".libnetrc"))
	}
	return &Env{
		Nodename:   os.Hostname,
		NISDomain:  nisDomain,
		Getenv:     os.Getenv,
		ResolvConf: "/etc/resolv.conf",
		Hosts:      "/etc/hosts",
		NSSwitch:   "/etc/nsswitch.conf",
		LibnetCfg:  cfg,
		LookupCNAME: func(ctx context.Context, name string) (string, error) {
			r := &net.Resolver{PreferGo: true}
			return r.LookupCNAME(ctx, name)
		},
		DNSTimeout: 3 * time.Second,
	}
}

// nisDomain is what Perl's `domainname 2>/dev/null` gives: the uname
// domainname when the command exists ("(none)" when unset), else nothing.
func nisDomain() (string, bool) {
	if _, err := exec.LookPath("domainname"); err != nil {
		return "", false
	}
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		return "", false
	}
	b := make([]byte, 0, len(u.Domainname))
	for _, c := range u.Domainname {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return string(b), true
}

// Result is hostfqdn's answer and how it was found.
type Result struct {
	FQDN   string // "" when Net::Domain returns undef
	Host   string // the cleaned kernel hostname
	Domain string // _hostdomain's answer, "" if none
	// DomainFrom says where Domain came from: "libnet.cfg inet_domain",
	// "/etc/resolv.conf search", "/etc/resolv.conf domain",
	// "gethostbyname(NAME) via files|dns|myhostname", "$LOCALDOMAIN",
	// "$DOMAIN", or "".
	DomainFrom string
	// How says how FQDN was formed, for explain and status.
	How string
}

// Hostfqdn runs the algorithm.
func (e *Env) Hostfqdn() Result {
	e.fill()
	var r Result
	r.Host = e.hostname()
	r.Domain, r.DomainFrom = e.hostdomain(r.Host)
	host, domain := r.Host, r.Domain
	if host != "" && domain != "" && !strings.Contains(host, ".") && strings.Contains(domain, ".") {
		r.FQDN = host + "." + domain
		r.How = "hostname " + q(host) + " + domain " + q(domain) + " from " + r.DomainFrom
		return r
	}
	if ipv4Literal().MatchString(host) {
		r.FQDN = host
		r.How = "hostname " + q(host) + " is an IPv4 address"
		return r
	}
	hs := perlSplitDot(host) // Perl's $host is always defined here
	var ds []string
	if r.DomainFrom != "" { // defined, even if empty
		ds = perlSplitDot(domain)
	}
	d := ds
	for {
		for h := hs; len(h) > 0; h = h[:len(h)-1] {
			tmp := strings.Join(append(append([]string{}, h...), d...), ".")
			if _, _, via, ok := e.gethostbyname(tmp); ok {
				r.FQDN = tmp
				r.How = "gethostbyname(" + q(tmp) + ") found it via " + via + " (hostname " + q(host) + ", domain " + orNone(domain, r.DomainFrom) + ")"
				return r
			}
		}
		// Perl: `last unless shift @d`: stops on an empty list and on a
		// false label ("" or "0").
		if len(d) == 0 || d[0] == "" || d[0] == "0" {
			break
		}
		d = d[1:]
	}
	r.How = "no name resolves (hostname " + q(host) + ", domain " + orNone(domain, r.DomainFrom) + ")"
	return r
}

func q(s string) string { return strconv.Quote(s) }

func orNone(domain, from string) string {
	if from == "" {
		return "none"
	}
	return q(domain) + " from " + from
}

// lazyRegexp compiles expr on first use: package init runs at every
// cronguard start, the shim's included, and compiling these six took half
// a millisecond of it (GODEBUG=inittrace=1, issue 16).
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

var ipv4Literal = lazyRegexp(`^\d+(\.\d+){3}$`)

func (e *Env) fill() {
	s := System()
	if e.Nodename == nil {
		e.Nodename = s.Nodename
	}
	if e.NISDomain == nil {
		e.NISDomain = s.NISDomain
	}
	if e.Getenv == nil {
		e.Getenv = s.Getenv
	}
	if e.LookupCNAME == nil {
		e.LookupCNAME = s.LookupCNAME
	}
	if e.DNSTimeout == 0 {
		e.DNSTimeout = s.DNSTimeout
	}
}

// perlSplitDot is Perl's split(/\./, $s): trailing empty fields dropped.
func perlSplitDot(s string) []string {
	f := strings.Split(s, ".")
	for len(f) > 0 && f[len(f)-1] == "" {
		f = f[:len(f)-1]
	}
	return f
}

var (
	garbage   = lazyRegexp(`[\x00\r\n]+`)
	edgeDots  = lazyRegexp(`(\A\.+|\.+\z)`)
	multiDots = lazyRegexp(`\.\.+`)
)

func clean(s string) string {
	s = garbage().ReplaceAllString(s, "")
	s = edgeDots().ReplaceAllString(s, "")
	return multiDots().ReplaceAllString(s, ".")
}

func (e *Env) hostname() string {
	h, err := e.Nodename()
	if err != nil {
		h = ""
	}
	return clean(h)
}

var (
	resolvDomain = lazyRegexp(`\A\s*(domain|search)\s+(\S+)`)
	libnetDomain = lazyRegexp(`(?m)^\s*['"]?inet_domain['"]?\s*=>\s*(?:q\s*\{([^}]*)\}|qq\s*\{([^}]*)\}|'([^']*)'|"([^"]*)")`)
)

// hostdomain is _hostdomain; from is "" when the domain is undefined.
func (e *Env) hostdomain(host string) (domain, from string) {
	for _, f := range e.LibnetCfg {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if f == "/etc/perl/Net/libnet.cfg" {
			// Debian's file defers to the old /etc/libnet.cfg when present.
			if alt, err := os.ReadFile("/etc/libnet.cfg"); err == nil {
				data = alt
			}
		}
		if m := libnetDomain().FindSubmatch(data); m != nil {
			domain, from = string(bytes.Join(m[1:], nil)), "libnet.cfg inet_domain ("+f+")"
		}
	}
	if from != "" {
		return domain, from
	}
	if f, err := os.Open(e.ResolvConf); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if m := resolvDomain().FindStringSubmatch(sc.Text()); m != nil {
				domain, from = m[2], e.ResolvConf+" "+m[1]
			}
		}
		f.Close()
		if from != "" {
			return domain, from
		}
	}
	hosts := []string{host, "localhost"}
	if !strings.Contains(host, ".") {
		if dom, ok := e.NISDomain(); ok {
			dom = strings.TrimLeft(dom, ".")
			if dom != "" {
				// Perl strips the first label with s/^[^.]+.+//, which
				// empties any name of two characters or more: one try.
				hosts = append([]string{host + "." + dom}, hosts...)
			}
		}
	}
	for _, h := range hosts {
		canon, aliases, via, ok := e.gethostbyname(h)
		if !ok {
			continue
		}
		for _, site := range append([]string{canon}, aliases...) {
			if strings.LastIndex(site, ".") > 0 {
				_, d, _ := strings.Cut(site, ".")
				return d, "gethostbyname(" + q(h) + ") via " + via + ": " + site
			}
		}
	}
	for _, v := range []string{"LOCALDOMAIN", "DOMAIN"} {
		if d := e.Getenv(v); d != "" {
			return clean(d), "$" + v
		}
	}
	return "", ""
}

// gethostbyname looks name up as glibc's gethostbyname would, through the
// sources of nsswitch.conf's hosts line.
func (e *Env) gethostbyname(name string) (canon string, aliases []string, via string, ok bool) {
	if name == "" {
		return "", nil, "", false
	}
	if numericName(name) {
		if inetAton(name) {
			return name, nil, "an address", true
		}
		return "", nil, "", false
	}
	for _, src := range e.nssHosts() {
		switch src {
		case "files":
			if c, a, ok, _ := lookupHostsFile(e.Hosts, name); ok {
				return c, a, "files (" + e.Hosts + ")", true
			}
		case "dns", "resolve":
			// Go's resolver answers names of /etc/hosts itself, IPv6
			// lines too, where glibc's dns module would ask DNS: a name
			// there is left to the files source.
			if _, _, _, inHosts := lookupHostsFile(e.Hosts, name); inHosts {
				continue
			}
			if c, ok := e.lookupDNS(name); ok {
				return c, nil, "dns", true
			}
		case "myhostname":
			if c, ok := e.myhostname(name); ok {
				return c, nil, "myhostname", true
			}
		}
	}
	return "", nil, "", false
}

// nssHosts is the hosts line of nsswitch.conf, without action items.
func (e *Env) nssHosts() []string {
	srcs := []string{"files", "dns"}
	data, err := os.ReadFile(e.NSSwitch)
	if err != nil {
		return srcs
	}
	for _, line := range strings.Split(string(data), "\n") {
		line, _, _ = strings.Cut(line, "#")
		key, rest, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(key) != "hosts" {
			continue
		}
		srcs = nil
		for _, w := range strings.Fields(rest) {
			if !strings.HasPrefix(w, "[") && !strings.HasSuffix(w, "]") && !strings.Contains(w, "=") {
				srcs = append(srcs, w)
			}
		}
	}
	return srcs
}

// numericName is glibc's test for a name of digits and dots, which
// gethostbyname parses as an address instead of looking it up.
func numericName(s string) bool {
	if s == "" || s[0] < '0' || s[0] > '9' || s[len(s)-1] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && s[i] != '.' {
			return false
		}
	}
	return true
}

// inetAton accepts what inet_aton accepts for a name of digits and dots:
// 1 to 4 parts, octal when they start with 0, the last filling the rest.
func inetAton(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return false
	}
	for i, p := range parts {
		if p == "" {
			return false
		}
		base := 10
		if len(p) > 1 && p[0] == '0' {
			base = 8
		}
		v, err := strconv.ParseUint(p, base, 32)
		if err != nil {
			return false
		}
		max := uint64(0xff)
		if i == len(parts)-1 {
			max = uint64(1)<<(8*(5-len(parts))) - 1
		}
		if v > max {
			return false
		}
	}
	return true
}

// lookupHostsFile is glibc's files backend for gethostbyname (AF_INET):
// the first IPv4 line whose names include name (in any case) gives the
// canonical name and aliases. (glibc 2.36 merges the addresses of later
// matching lines, not their names: checked against Perl.) inHosts is true
// when any line, IPv6 ones too, names it.
func lookupHostsFile(path, name string) (canon string, aliases []string, ok, inHosts bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", nil, false, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		match := false
		for _, n := range fields[1:] {
			if strings.EqualFold(n, name) {
				match = true
			}
		}
		if !match {
			continue
		}
		inHosts = true
		if ip := net.ParseIP(fields[0]); ip == nil || ip.To4() == nil || strings.Contains(fields[0], ":") {
			continue
		}
		if !ok {
			canon, aliases, ok = fields[1], append([]string{}, fields[2:]...), true
		}
	}
	return canon, aliases, ok, inHosts
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (e *Env) lookupDNS(name string) (string, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), e.DNSTimeout)
	defer cancel()
	c, err := e.LookupCNAME(ctx, name)
	if err != nil || c == "" {
		return "", false
	}
	return strings.TrimSuffix(c, "."), true
}

// myhostname is nss-myhostname: the kernel hostname, "localhost" and
// names under ".localhost" (and "_gateway", which has no dot) resolve.
func (e *Env) myhostname(name string) (string, bool) {
	if h, err := e.Nodename(); err == nil && strings.EqualFold(strings.TrimSuffix(name, "."), h) {
		return h, true
	}
	l := strings.ToLower(strings.TrimSuffix(name, "."))
	if l == "localhost" || l == "localhost.localdomain" || strings.HasSuffix(l, ".localhost") || strings.HasSuffix(l, ".localhost.localdomain") {
		return l, true
	}
	return "", false
}
