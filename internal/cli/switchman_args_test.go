package cli

import (
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// switchmanCrontabs are argument vectors of real-world switchman crontab
// lines (what follows "switchman"), with the cobra arguments cronguard
// runs them as, or the error it refuses them with (switchman refused them
// too: Getopt::Long's "Unknown option", "is ambiguous", "requires an
// argument", "does not take an argument").
var switchmanCrontabs = []struct {
	in   []string
	want []string // nil: args left to cobra unchanged
	err  string
}{
	// With "--", as documented.
	{[]string{"-g", "grp", "--", "cmd"}, []string{"run", "--group=grp", "--", "cmd"}, ""},
	{[]string{"-c", "/etc/switchman.conf", "-g", "grp", "--lockname", "x", "--", "cmd", "-v"},
		[]string{"run", "--config=/etc/switchman.conf", "--group=grp", "--lockname=x", "--", "cmd", "-v"}, ""},
	{[]string{"--", "/usr/bin/job", "--verbose", "-x"}, []string{"run", "--", "/usr/bin/job", "--verbose", "-x"}, ""},
	{[]string{"-g", "status", "--", "cmd"}, []string{"run", "--group=status", "--", "cmd"}, ""},
	{[]string{"--no-lock", "--", "cmd"}, []string{"run", "--no-lock=true", "--", "cmd"}, ""},
	{[]string{"--group=run", "--", "cmd"}, []string{"run", "--group=run", "--", "cmd"}, ""},
	{[]string{"-g", "g", "--", "status"}, []string{"run", "--group=g", "--", "status"}, ""},
	// No "--": switchman ran CMD ARGS.
	{[]string{"-c", "/etc/sw.conf", "-g", "G", "--lockname", "X", "/usr/local/bin/job", "a", "b"},
		[]string{"run", "--config=/etc/sw.conf", "--group=G", "--lockname=X", "--", "/usr/local/bin/job", "a", "b"}, ""},
	{[]string{"-g", "batch", "/usr/bin/perl", "/opt/scripts/report.pl"},
		[]string{"run", "--group=batch", "--", "/usr/bin/perl", "/opt/scripts/report.pl"}, ""},
	{[]string{"/usr/bin/job"}, []string{"run", "--", "/usr/bin/job"}, ""},
	{[]string{"-g", "G", "--lease", "FQDN_mem=4:int(MEMMB/1024)", "--lease", "db=1:4", "etl", "-"},
		[]string{"run", "--group=G", "--lease=FQDN_mem=4:int(MEMMB/1024)", "--lease=db=1:4", "--", "etl", "-"}, ""},
	// Single-dash long options, "+", case, "name=value".
	{[]string{"-group", "G", "-lockname", "L", "-nolock", "job"}, []string{"run", "--group=G", "--lockname=L", "--no-lock=true", "--", "job"}, ""},
	{[]string{"-config=/c", "-g=G", "+lockname", "L", "job"}, []string{"run", "--config=/c", "--group=G", "--lockname=L", "--", "job"}, ""},
	{[]string{"--Group", "G", "-LOCKNAME=L", "--NoLock", "job"}, []string{"run", "--group=G", "--lockname=L", "--no-lock=true", "--", "job"}, ""},
	// Unique abbreviations.
	{[]string{"--gr", "G", "--lockn", "L", "--le", "r=1:2", "--co", "/c", "--no", "job"},
		[]string{"run", "--group=G", "--lockname=L", "--lease=r=1:2", "--config=/c", "--no-lock=true", "--", "job"}, ""},
	{[]string{"--no-l", "-conf", "/c", "job"}, []string{"run", "--no-lock=true", "--config=/c", "--", "job"}, ""},
	// --lock is switchman's switch (lock!), the default; the last wins.
	{[]string{"--nolock", "--lock", "job"}, []string{"run", "--no-lock=true", "--no-lock=false", "--", "job"}, ""},
	{[]string{"--lock", "--", "job"}, []string{"run", "--no-lock=false", "--", "job"}, ""},
	// Permute: switchman's options after the command word are still its own.
	{[]string{"job", "-g", "G"}, []string{"run", "--group=G", "--", "job"}, ""},
	{[]string{"-g", "G", "job", "arg", "--lockname", "L", "arg2"}, []string{"run", "--group=G", "--lockname=L", "--", "job", "arg", "arg2"}, ""},
	{[]string{"-g", "G", "job", "--", "--lockname", "L"}, []string{"run", "--group=G", "--", "job", "--lockname", "L"}, ""},
	// A value option takes the next argument, whatever it is.
	{[]string{"--lockname", "--", "job"}, []string{"run", "--lockname=--", "--", "job"}, ""},
	{[]string{"-g", "-x", "job"}, []string{"run", "--group=-x", "--", "job"}, ""},
	// cronguard's own flags before the command, as cobra reads them.
	{[]string{"--zk", "h:1", "-g", "G", "--timeout", "1h", "--wait=5s", "job"},
		[]string{"run", "--zk", "h:1", "--group=G", "--timeout", "1h", "--wait=5s", "--", "job"}, ""},
	{[]string{"--lock=L", "-g", "G", "--", "job"}, []string{"run", "--lock=L", "--group=G", "--", "job"}, ""},
	// A cronguard subcommand stays one.
	{[]string{"--zk", "h:1", "run", "-g", "g", "--", "cmd"}, nil, ""},
	{[]string{"config", "get"}, nil, ""},
	{[]string{"-g", "G", "status"}, nil, ""},
	{[]string{"help"}, nil, ""},
	{[]string{"--help"}, nil, ""},
	{[]string{"--version"}, []string{"--version"}, ""},
	{[]string{"-g", "G", "job", "-h"}, []string{"run", "--help"}, ""},
	{nil, nil, ""},
	// What switchman refused.
	{[]string{"-g", "G", "job", "--verbose"}, nil, `option "--verbose": unknown option; switchman refused this too; write the command after "--"`},
	{[]string{"-g", "G", "rsync", "-a", "src", "dst"}, nil, `option "-a": unknown option`},
	{[]string{"-g", "G", "job", "-5"}, nil, `option "-5": unknown option`},
	{[]string{"-g", "G", "job", "+x"}, nil, `option "+x": unknown option`},
	{[]string{"-g", "G", "job", "--timeout", "5"}, nil, `option "--timeout": unknown option`},
	{[]string{"--lo", "L", "job"}, nil, `option "--lo": ambiguous (lock, lockname)`},
	{[]string{"-l", "job"}, nil, "ambiguous (lease, lock, lockname)"},
	{[]string{"job", "-g"}, nil, `option "-g" needs a value`},
	{[]string{"--group=", "job"}, nil, `option "--group=" needs a value`},
	{[]string{"--nolock=1", "job"}, nil, "takes no value"},
	{[]string{"job", "+"}, nil, "no option name"},
}

func TestSwitchmanCrontabForms(t *testing.T) {
	root := newRootCmd(io.Discard, io.Discard)
	for _, tc := range switchmanCrontabs {
		got, err := switchmanForm(tc.in, root.commandNames(), root.runFlag)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("switchmanForm(%q) = %q, %v; want an error with %q", tc.in, got, err, tc.err)
			}
		case err != nil:
			t.Errorf("switchmanForm(%q): %v", tc.in, err)
		case tc.want == nil && !slices.Equal(got, tc.in):
			t.Errorf("switchmanForm(%q) = %q, want it unchanged (cobra's)", tc.in, got)
		case tc.want != nil && !slices.Equal(got, tc.want):
			t.Errorf("switchmanForm(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestSwitchmanFormPosixlyCorrect: with POSIXLY_CORRECT set, switchman's
// Getopt::Long stopped at the first word and knew no abbreviations.
func TestSwitchmanFormPosixlyCorrect(t *testing.T) {
	t.Setenv("POSIXLY_CORRECT", "1")
	root := newRootCmd(io.Discard, io.Discard)
	got, err := switchmanForm([]string{"-g", "G", "job", "-x", "--lockname", "L"}, root.commandNames(), root.runFlag)
	if want := []string{"run", "--group=G", "--", "job", "-x", "--lockname", "L"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("got %q, %v; want %q", got, err, want)
	}
	if _, err := switchmanForm([]string{"--gr", "G", "job"}, root.commandNames(), root.runFlag); err == nil {
		t.Errorf("--gr accepted under POSIXLY_CORRECT")
	}
}

// perlOracle is switchman 1.16's option parsing (App::Switchman::BUILDARGS),
// the handlers of -h and -v replaced, printing what it parsed.
const perlOracle = `
use strict; use warnings; use Getopt::Long qw(GetOptionsFromArray);
$SIG{__WARN__} = sub {};
my @a = @ARGV; my %o = (do_get_lock => 1); my $c; my $l = {};
my $ok = eval { GetOptionsFromArray(\@a,
    'c|config=s' => \$c, 'g|group=s' => \$o{group}, 'h|help' => sub { print "HELP\n"; exit },
    'lease=s' => $l, 'lockname=s' => \$o{lockname}, 'v|version' => sub { print "VERSION\n"; exit },
    'lock!' => \$o{do_get_lock}) };
if ($@) { print $@; exit }
if (!$ok) { print "ERR\n"; exit }
print join("\x01", "config=" . ($c // ""), "group=" . ($o{group} // ""), "lockname=" . ($o{lockname} // ""),
    "lock=$o{do_get_lock}", map({ "lease=$_=$l->{$_}" } sort keys %$l), "cmd", @a), "\n";
`

// oracleView renders cronguard's run arguments as perlOracle prints.
func oracleView(out []string) string {
	if len(out) == 2 && out[1] == "--help" {
		return "HELP"
	}
	if len(out) == 1 && out[0] == "--version" {
		return "VERSION"
	}
	v := map[string]string{"config": "", "group": "", "lockname": "", "lock": "1"}
	var leases []string
	i := 1
	for ; out[i] != "--"; i++ {
		k, val, _ := strings.Cut(strings.TrimPrefix(out[i], "--"), "=")
		switch k {
		case "no-lock":
			v["lock"] = map[string]string{"true": "0", "false": "1"}[val]
		case "lease":
			leases = append(leases, "lease="+val)
		default:
			v[k] = val
		}
	}
	slices.Sort(leases)
	f := []string{"config=" + v["config"], "group=" + v["group"], "lockname=" + v["lockname"], "lock=" + v["lock"]}
	f = append(f, leases...)
	f = append(f, "cmd")
	return strings.Join(append(f, out[i+1:]...), "\x01")
}

// TestSwitchmanFormMatchesGetoptLong runs switchman's own GetOptions spec
// through Perl's Getopt::Long on every vector that uses switchman's options
// only, and checks cronguard reads each the same way, or refuses it when
// switchman did.
func TestSwitchmanFormMatchesGetoptLong(t *testing.T) {
	perl, err := exec.LookPath("perl")
	if err != nil {
		t.Skip("no perl")
	}
	root := newRootCmd(io.Discard, io.Discard)
	extra := [][]string{
		{"-G", "g", "job"}, {"--LEASE", "a=1:2", "--lease=b=2:3", "job"}, {"-he"}, {"job", "--ve"},
		{"-nolock", "-lock", "-no-lock", "job"}, {"--lockname=a=b", "job"}, {"-c", "--", "job"},
		{"job", "-", "x"}, {"job", "---g", "x"}, {"--", "--", "x"}, {"a", "--", "b", "-g", "c"},
	}
	vectors := extra
	for _, tc := range switchmanCrontabs {
		vectors = append(vectors, tc.in)
	}
	for _, in := range vectors {
		if len(in) == 0 || !hasWord(in) {
			continue // cobra's: no command
		}
		cronguardOnly := false
		for _, a := range in {
			if a == "--" {
				break
			}
			if n, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "="); strings.HasPrefix(a, "--") {
				if known, _ := cronguardOnlyFlag(root.runFlag, n, strings.Contains(a, "=")); known {
					cronguardOnly = true
				}
			}
			if root.commandNames()[a] {
				cronguardOnly = true
			}
		}
		if cronguardOnly {
			continue
		}
		cmd := exec.Command(perl, append([]string{"-e", perlOracle, "--"}, in...)...)
		cmd.Env = []string{"PATH=/usr/bin:/bin"}
		b, err := cmd.Output()
		if err != nil {
			t.Fatalf("perl: %v", err)
		}
		want := strings.TrimSuffix(string(b), "\n")
		got, err := switchmanForm(in, root.commandNames(), root.runFlag)
		switch {
		case want == "ERR":
			if err == nil {
				t.Errorf("%q: switchman refused it, cronguard runs %q", in, got)
			}
		case err != nil:
			t.Errorf("%q: switchman ran %q, cronguard refuses: %v", in, want, err)
		case oracleView(got) != want:
			t.Errorf("%q: switchman read %q, cronguard %q", in, want, oracleView(got))
		}
	}
}
