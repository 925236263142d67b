package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cronguard/cronguard/config"
	"github.com/cronguard/cronguard/internal/netdomain"
	"github.com/cronguard/cronguard/lease"
)

type preflightOptions struct {
	g        *globalOptions
	crontabs []string
	cronDir  string
	system   string
}

func newPreflightCmd(g *globalOptions) *cobra.Command {
	o := &preflightOptions{g: g}
	cmd := &cobra.Command{
		Use:   "preflight [--crontab FILE]...",
		Short: "Before swapping switchman for cronguard on this host: say what would change (exit 1 when anything would)",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return o.run() },
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.crontabs, "crontab", nil, "a user crontab file to check too (repeatable; no user field)")
	f.StringVar(&o.cronDir, "cron-dir", "/etc/cron.d", "system cron.d directory")
	f.StringVar(&o.system, "system-crontab", "/etc/crontab", "system crontab")
	return cmd
}

func (o *preflightOptions) run() error {
	st, err := o.g.resolve()
	if err != nil {
		return err
	}
	var findings []string
	sw := netdomain.System().Hostfqdn()
	if sw.FQDN != st.identity.Name {
		findings = append(findings, fmt.Sprintf("identity: switchman calls this host %q (%s), cronguard %q (%s)",
			sw.FQDN, sw.How, st.identity.Name, st.identity.Source))
	}
	files := []struct {
		path    string
		hasUser bool
	}{{o.system, true}}
	if names, err := os.ReadDir(o.cronDir); err == nil {
		sort.Slice(names, func(i, j int) bool { return names[i].Name() < names[j].Name() })
		for _, n := range names {
			if !n.IsDir() {
				files = append(files, struct {
					path    string
					hasUser bool
				}{filepath.Join(o.cronDir, n.Name()), true})
			}
		}
	}
	for _, c := range o.crontabs {
		files = append(files, struct {
			path    string
			hasUser bool
		}{c, false})
	}
	for _, f := range files {
		findings = append(findings, preflightFile(f.path, st.identity.Name)...)
	}
	size, sizeErr := o.fleetSize(st)
	if size != "" {
		findings = append(findings, size)
	}
	err = reportFindings(o.g.stdout, findings)
	if sizeErr != nil {
		// Not a finding: the other checks stand; one line says what was not checked.
		fmt.Fprintf(o.g.stdout, "fleet config: not checked, ZooKeeper unreachable (%v)\n", sizeErr)
	}
	return err
}

// fleetSize reads the fleet config (one connection, one read) and checks
// its size against switchman's read limit, data_read_len in the local
// config (default 65535), as `config set` does: a longer config kills every
// switchman host that reads it. err: ZooKeeper could not be asked.
func (o *preflightOptions) fleetSize(st *settings) (string, error) {
	l := st.local
	ctx, cancel := context.WithTimeout(context.Background(), l.ConnectTimeout+l.SessionTimeout)
	defer cancel()
	a, data, _, err := o.g.dialFleet(ctx)
	if err != nil {
		return "", err
	}
	defer a.Close()
	if err := config.CheckSwitchmanReadLen(len(data), l, false); err != nil {
		return "fleet config " + st.root + ": " + err.Error(), nil
	}
	return "", nil
}

func reportFindings(w io.Writer, findings []string) error {
	for _, f := range findings {
		fmt.Fprintln(w, f)
	}
	if len(findings) > 0 {
		return exitCode(1)
	}
	fmt.Fprintln(w, "preflight: nothing would change on this host")
	return nil
}

// preflightFile finds switchman invocations in a crontab and parses each
// with cronguard's own run parser (switchmanForm and run's flags); it
// returns one "FILE:LINE: ..." finding per line that would not run the
// same. A missing file has nothing to say.
func preflightFile(path, host string) []string {
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return []string{fmt.Sprintf("%s: %v", path, err)}
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		args, ok := switchmanWords(sc.Text())
		if !ok {
			continue
		}
		if msg := checkSwitchmanArgs(args, host); msg != "" {
			out = append(out, fmt.Sprintf("%s:%d: %s", path, n, msg))
		}
	}
	return out
}

// switchmanWords returns the words after a `switchman` command word on a
// cron line, up to a shell operator or redirection (an approximation of
// the shell: a word wholly in quotes loses them, nothing else is
// interpreted).
func switchmanWords(line string) ([]string, bool) {
	t := strings.TrimSpace(line)
	if t == "" || strings.HasPrefix(t, "#") {
		return nil, false
	}
	words := strings.Fields(t)
	for i, w := range words {
		if filepath.Base(w) != "switchman" {
			continue
		}
		var args []string
		for _, a := range words[i+1:] {
			if strings.ContainsAny(a[:1], "><|;&") || strings.HasPrefix(a, "2>") || strings.HasPrefix(a, "1>") {
				break
			}
			if len(a) >= 2 && (a[0] == '"' || a[0] == '\'') && a[len(a)-1] == a[0] {
				a = a[1 : len(a)-1]
			}
			args = append(args, a)
		}
		return args, true
	}
	return nil, false
}

// checkSwitchmanArgs parses a switchman invocation as cronguard would and
// checks its leases; "" when cronguard accepts it.
func checkSwitchmanArgs(args []string, host string) string {
	root := newRootCmd(io.Discard, io.Discard)
	conv, err := switchmanForm(args, root.commandNames(), root.runFlag)
	if err != nil {
		return fmt.Sprintf("cronguard refuses %q: %v", strings.Join(args, " "), err)
	}
	if len(conv) == 0 || conv[0] != "run" {
		return fmt.Sprintf("cronguard would not read %q as a run (it reads it as %q)", strings.Join(args, " "), strings.Join(conv, " "))
	}
	run, _, err := root.Find([]string{"run"})
	if err != nil {
		return err.Error()
	}
	run.InheritedFlags() // merge the global flags into run's flag set
	if err := run.ParseFlags(conv[1:]); err != nil {
		return fmt.Sprintf("cronguard refuses %q: %v", strings.Join(args, " "), err)
	}
	if err := refuseEmptyFlags(run, nil); err != nil {
		return fmt.Sprintf("cronguard refuses %q: %v", strings.Join(args, " "), err)
	}
	if len(run.Flags().Args()) == 0 {
		return fmt.Sprintf("no command in %q", strings.Join(args, " "))
	}
	if msg := lockDiffers(args, run.Flags()); msg != "" {
		return msg
	}
	leases, _ := run.Flags().GetStringArray("lease")
	for _, l := range leases {
		if _, err := lease.ParseSpec(l, lease.LocalMacros(host)); err != nil {
			return fmt.Sprintf("lease %q is refused: %v", l, err)
		}
	}
	return ""
}

// lockDiffers compares the lock switchman took for a command line with the
// one cronguard takes for the same line once parsed (flags: run's, after
// parsing it); "" when they agree. switchman 1.16 (App::Switchman):
//
//	$options{lockname} ||= basename($arguments->[0]);
//
// after Getopt::Long, with lock! / nolock deciding whether it locks at all.
// Perl's ||= treats "" and "0" as unset, and File::Basename's basename
// strips trailing slashes; cronguard takes --lock/--lockname as given, else
// filepath.Base of the command word.
func lockDiffers(args []string, flags *pflag.FlagSet) string {
	swLock, swNoLock, ok := switchmanLock(args)
	if !ok {
		return ""
	}
	cgNoLock, _ := flags.GetBool("no-lock")
	cg, _ := flags.GetString("lock")
	if cg == "" {
		if rest := flags.Args(); len(rest) > 0 {
			cg = filepath.Base(rest[0])
		}
	}
	line := strings.Join(args, " ")
	switch {
	case swNoLock && cgNoLock:
		return ""
	case swNoLock:
		return fmt.Sprintf("lock differs for %q: switchman takes no lock, cronguard takes lock %q", line, cg)
	case cgNoLock:
		return fmt.Sprintf("lock differs for %q: switchman takes lock %q, cronguard none", line, swLock)
	case swLock != cg:
		return fmt.Sprintf("lock differs for %q: switchman takes lock %q, cronguard %q (a switchman host and this one would run it at the same time: give --lockname %q)", line, swLock, cg, swLock)
	}
	return ""
}

// switchmanLock reads a command line as switchman's Getopt::Long did
// (permute, "--", abbreviations; POSIXLY_CORRECT is not considered) and
// returns the lock it took; ok is false when switchman refused the line.
func switchmanLock(args []string) (lock string, noLock, ok bool) {
	var lockname string
	var command []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			command = append(command, args[i+1:]...)
			break
		}
		var name string
		switch {
		case strings.HasPrefix(a, "--"):
			name = a[2:]
		case strings.HasPrefix(a, "-") && a != "-", strings.HasPrefix(a, "+"):
			name = a[1:]
		default:
			command = append(command, a)
			continue
		}
		val, hasVal := "", false
		if k := strings.Index(name, "="); k >= 1 {
			name, val, hasVal = name[:k], name[k+1:], true
		}
		opt, err := resolveSwitchmanOpt(name, false)
		if err != nil {
			return "", false, false
		}
		o := switchmanOpts[opt]
		if !o.value {
			switch o.id {
			case "lock":
				noLock = false
			case "nolock":
				noLock = true
			case "help", "version":
				return "", false, false
			}
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				return "", false, false
			}
			i++
			val = args[i]
		}
		if o.id == "lockname" {
			lockname = val
		}
	}
	if len(command) == 0 {
		return "", false, false
	}
	if lockname == "" || lockname == "0" { // Perl's ||=: both are false
		lockname = perlBasename(command[0])
	}
	return lockname, noLock, true
}

// perlBasename is File::Basename's basename on Unix: trailing slashes
// dropped, then what follows the last slash ("/" stays "/", "" stays "").
func perlBasename(p string) string {
	t := strings.TrimRight(p, "/")
	if t == "" {
		if p == "" {
			return ""
		}
		return "/"
	}
	return t[strings.LastIndex(t, "/")+1:]
}
