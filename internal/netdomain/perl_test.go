package netdomain_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cronguard/cronguard/internal/netdomain"
)

// identityHelperEnv makes the test binary print netdomain's answer and
// exit: the comparison runs it inside the namespace next to perl.
const identityHelperEnv = "NETDOMAIN_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(identityHelperEnv) == "1" {
		r := netdomain.System().Hostfqdn()
		fmt.Print(r.FQDN)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestMatchesPerlNetDomain runs Perl's Net::Domain::hostfqdn and this
// package under the same hostname, /etc/hosts and /etc/resolv.conf (a new
// UTS, mount and network namespace: the network one makes every DNS query
// fail at once, the same for both) and wants the same answer.
func TestMatchesPerlNetDomain(t *testing.T) {
	for _, tool := range []string{"unshare", "perl", "mount", "hostname"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found: cannot compare with Perl's Net::Domain", tool)
		}
	}
	if out, err := exec.Command("unshare", "--uts", "--mount", "--net", "true").CombinedOutput(); err != nil {
		t.Skipf("unshare --uts --mount --net is not available here (needs root or user namespaces): %v %s", err, out)
	}
	if err := exec.Command("perl", "-MNet::Domain=hostfqdn", "-e", "1").Run(); err != nil {
		t.Skip("perl has no Net::Domain")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	const localhost = "127.0.0.1 localhost\n::1 localhost ip6-localhost\n"
	for _, tc := range []struct {
		name, hostname, hosts string
		resolv                *string // nil: no /etc/resolv.conf at all
		env                   string
		want                  string // Perl's answer, also checked
	}{
		{name: "cloud search", hostname: "ip-10-0-0-1", hosts: localhost, resolv: ptr("nameserver 127.0.0.1\nsearch ec2.internal\n"), want: "ip-10-0-0-1.ec2.internal"},
		{name: "search list takes its first domain, last line wins", hostname: "box1", hosts: localhost, resolv: ptr("domain a.example\nsearch b.example c.example\n"), want: "box1.b.example"},
		{name: "domain x.y", hostname: "box1", hosts: localhost, resolv: ptr("domain x.y\nnameserver 127.0.0.1\n"), want: "box1.x.y"},
		{name: "dotless domain falls to lookups", hostname: "box1", hosts: localhost + "10.0.0.2 box1.lan box1\n", resolv: ptr("search lan\n"), want: "box1.lan"},
		{name: "name with a dot, nothing resolves", hostname: "web1.example.com", hosts: localhost, resolv: ptr("nameserver 127.0.0.1\n"), want: ""},
		{name: "name with a dot in hosts", hostname: "web1.example.com", hosts: localhost + "10.0.0.3 web1.example.com web1\n", resolv: ptr("nameserver 127.0.0.1\n"), want: "web1.example.com"},
		{name: "name with a dot and a search domain", hostname: "web1.example.com", hosts: localhost, resolv: ptr("search other.org\n"), want: ""},
		{name: "hosts alias gives the domain", hostname: "box2", hosts: localhost + "10.0.0.4 box2 box2.corp.example b2\n", resolv: ptr("nameserver 127.0.0.1\n"), want: "box2.corp.example"},
		{name: "hosts canonical first", hostname: "box3", hosts: localhost + "10.0.0.5 box3.dc1.example box3 box3.other.example\n", resolv: ptr(""), want: "box3.dc1.example"},
		{name: "ipv6 lines do not count", hostname: "box4", hosts: localhost + "fd00::4 box4.v6.example box4\n", resolv: ptr(""), want: ""},
		{name: "localhost with a dotless domain", hostname: "box5", hosts: "127.0.0.1 localhost.localdomain localhost\n127.0.1.1 box5\n", resolv: ptr(""), want: "box5"},
		{name: "no resolv.conf", hostname: "box6", hosts: localhost + "10.0.0.6 box6.example.net box6\n", resolv: nil, want: "box6.example.net"},
		{name: "no resolv.conf, not in hosts", hostname: "box7", hosts: localhost, resolv: nil, want: ""},
		{name: "LOCALDOMAIN", hostname: "box8", hosts: localhost, resolv: nil, env: "LOCALDOMAIN=env.example", want: "box8.env.example"},
		{name: "later hosts lines add no names", hostname: "box9", hosts: localhost + "10.0.0.9 box9\n10.0.0.10 b9 box9 box9.merged.example\n", resolv: ptr(""), want: "box9"},
		{name: "IPv4 hostname", hostname: "10.1.2.3", hosts: localhost, resolv: ptr(""), want: "10.1.2.3"},
		{name: "case-insensitive hosts match", hostname: "Box10", hosts: localhost + "10.0.0.11 box10.case.example BOX10\n", resolv: ptr(""), want: "Box10.case.example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			perl, goAnswer := runBoth(t, self, tc.hostname, tc.hosts, tc.resolv, tc.env)
			t.Logf("hostname %q: perl %q, go %q", tc.hostname, perl, goAnswer)
			if perl != tc.want {
				t.Errorf("perl says %q, the test expected %q (fix the case)", perl, tc.want)
			}
			if goAnswer != perl {
				t.Errorf("netdomain says %q, Perl's Net::Domain says %q", goAnswer, perl)
			}
		})
	}
}

func ptr(s string) *string { return &s }

// runBoth runs perl and the helper in one namespace set up as asked. /etc
// is replaced by a copy (bind-mounted) so that resolv.conf can be absent.
func runBoth(t *testing.T, self, hostname, hosts string, resolv *string, env string) (perl, goAnswer string) {
	t.Helper()
	dir := t.TempDir()
	etc := filepath.Join(dir, "etc")
	if err := os.Mkdir(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	// Only what perl and the resolver read; the rest of /etc is bound in.
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(etc, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("hosts", hosts)
	if resolv != nil {
		write("resolv.conf", *resolv)
	}
	script := `set -e
for f in /etc/* /etc/.[!.]*; do
	b=${f#/etc/}
	case $b in hosts|resolv.conf|'.[!.]*') continue;; esac
	if [ -d "$f" ] && [ ! -L "$f" ]; then mkdir -p "$ETC/$b"; else touch "$ETC/$b" 2>/dev/null || true; fi
	[ -L "$f" ] || mount --bind "$f" "$ETC/$b" 2>/dev/null || cp -a "$f" "$ETC/$b" 2>/dev/null || true
done
mount --bind "$ETC" /etc
hostname "$NAME"
perl -MNet::Domain=hostfqdn -e 'print hostfqdn() // ""'
echo
NETDOMAIN_TEST_HELPER=1 "$SELF"
`
	cmd := exec.Command("unshare", "--uts", "--mount", "--net", "sh", "-c", script)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + dir, "ETC=" + etc, "NAME=" + hostname, "SELF=" + self}
	if env != "" {
		cmd.Env = append(cmd.Env, env)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("namespace run: %v\n%s", err, out)
	}
	p, g, ok := strings.Cut(string(out), "\n")
	if !ok {
		t.Fatalf("unexpected output %q", out)
	}
	return p, g
}
