package metadata

import (
	"fmt"
	"path"
	"strings"

	"github.com/cronguard/cronguard/schedule"
)

// CronguardPath is where the units run cronguard from: where its .deb
// installs it. systemd wants an absolute path.
const CronguardPath = "/usr/bin/cronguard"

// SystemdUnitDir is where a package installs the units.
const SystemdUnitDir = "/lib/systemd/system"

// systemdGuard is what a cron line of an entry that has a timer runs
// first when the cron.d file is generated with Options.Systemd: on a host
// booted with systemd the timer runs the job and the cron line does
// nothing (Debian's convention for packages shipping both, as
// e2fsprogs' e2scrub_all does).
const systemdGuard = "[ -d /run/systemd/system ] ||"

// Unit is one generated systemd unit file.
type Unit struct {
	Name string // e.g. reports-nightly-report.pl.timer
	Data []byte
}

// Timer is the pair of units of one entry: the .timer and the .service it
// starts.
type Timer struct {
	Package string
	Entry   *Entry
	Timer   Unit
	Service Unit
}

// HasTimer reports whether an entry gets a systemd timer: a guarded entry
// whose schedule has slots. A plain entry of switchman's form runs without
// cronguard and stays a cron line only; so does @reboot (each host runs it
// at its own boot, a timer started at install would run it then), and a
// spec that matches no day.
func HasTimer(e *Entry) bool {
	return !e.Plain && slotted(e.Time)
}

// cronCommand is the command of e's cron line: Command, stepping aside on
// a systemd host when e also has a timer there.
func cronLine(e *Entry, o Options) string {
	c := CronCommand(e, o)
	if o.Systemd && HasTimer(e) {
		return systemdGuard + " { " + c + "; }"
	}
	return c
}

// GenerateSystemd renders a .timer and a .service per entry that has a
// timer, sorted by package then as Generate sorts entries, and returns a
// note ("file:line: ...") for every entry left to cron. Unit names are
// PACKAGE-LOCK, escaped as systemd-escape does, with -2, -3... for a
// second entry of the same package and lock.
func GenerateSystemd(entries []*Entry, o Options) ([]Timer, []string, error) {
	if err := CheckInstallDir(o.installDir()); err != nil {
		return nil, nil, err
	}
	if e := unmappedLeases(entries); e != nil {
		return nil, nil, fmt.Errorf("%w: %s:%d: <leases> not mapped to resources: call MapLeases first", ErrInvalid, e.Source, e.Line)
	}
	var (
		timers []Timer
		notes  []string
		errs   Errors
	)
	files, err := Generate(entries, o) // the package order and the entries' order
	if err != nil {
		return nil, nil, err
	}
	used := map[string]bool{}
	for _, f := range files {
		for _, e := range f.Entries {
			if !HasTimer(e) {
				why := "a plain cron line of switchman's form runs without cronguard"
				switch {
				case e.Time == "@reboot":
					why = "@reboot runs at each host's boot, which a timer enabled at install would not mean"
				case !e.Plain:
					why = "its schedule matches no day"
				}
				notes = append(notes, fmt.Sprintf("%s:%d: no systemd timer (%s): it stays in /etc/cron.d/%s", e.Source, e.Line, why, e.Package))
				continue
			}
			base := UnitName(e.Package + "-" + e.Lock)
			name := base
			for n := 2; used[name]; n++ {
				name = fmt.Sprintf("%s-%d", base, n)
			}
			used[name] = true
			if len(name)+len(".service") > 255 {
				errs = append(errs, &Error{File: e.Source, Line: e.Line, Msg: fmt.Sprintf("systemd unit name %q is longer than 255 characters: name a shorter lock", name+".service")})
				continue
			}
			s, _ := schedule.Parse(e.Time)
			timers = append(timers, Timer{
				Package: e.Package, Entry: e,
				Timer:   Unit{Name: name + ".timer", Data: renderTimer(e, s, name)},
				Service: Unit{Name: name + ".service", Data: renderService(e, o)},
			})
		}
	}
	if len(errs) > 0 {
		return nil, nil, errs
	}
	return timers, notes, nil
}

// UnitName escapes a name for systemd as systemd-escape does: letters,
// digits, ':', '_' and '.' (not leading) stay, '-' stays (no path is
// meant), every other byte becomes \xNN.
func UnitName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == ':', c == '_', c == '-', c == '.' && i > 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, `\x%02x`, c)
		}
	}
	return b.String()
}

func unitHeader(b *strings.Builder, e *Entry) {
	b.WriteString(Header + " from the METADATA block at\n")
	fmt.Fprintf(b, "# %s:%d. Do not edit: change the script and run `cronguard gen` again.\n", e.Source, e.Line)
}

func renderTimer(e *Entry, s *schedule.Schedule, name string) []byte {
	var b strings.Builder
	unitHeader(&b, e)
	b.WriteString("\n[Unit]\n")
	fmt.Fprintf(&b, "Description=%s\n", specifiers(fmt.Sprintf("cron schedule %s of %s", e.Time, e.Script)))
	b.WriteString("\n[Timer]\n")
	cal := s.OnCalendar()
	fmt.Fprintf(&b, "# cron: %s (local time)\n", e.Time)
	if len(cal) > 1 {
		b.WriteString("# Both day fields are restricted: cron runs on a day matching either.\n")
	}
	for _, c := range cal {
		fmt.Fprintf(&b, "OnCalendar=%s\n", c)
	}
	// cron starts jobs on the minute; systemd's default accuracy is a minute.
	b.WriteString("AccuracySec=1s\n")
	if e.Persistent {
		b.WriteString("# persistent: yes: a run missed while the host was down runs at boot.\n")
		b.WriteString("Persistent=true\n")
	}
	fmt.Fprintf(&b, "Unit=%s.service\n", name)
	b.WriteString("\n[Install]\nWantedBy=timers.target\n")
	return []byte(b.String())
}

func renderService(e *Entry, o Options) []byte {
	var b strings.Builder
	unitHeader(&b, e)
	b.WriteString("\n[Unit]\n")
	fmt.Fprintf(&b, "Description=%s\n", specifiers(fmt.Sprintf("cronguard job %s (%s) of %s", e.Lock, e.Script, e.Package)))
	b.WriteString("Documentation=man:cronguard-run(1)\n")
	// cronguard run needs ZooKeeper, over the network.
	b.WriteString("Wants=network-online.target\nAfter=network-online.target\n")
	b.WriteString("\n[Service]\nType=oneshot\n")
	fmt.Fprintf(&b, "User=%s\n", e.User)
	// The cron line's environment: cron.d's PATH, then the block's env.
	fmt.Fprintf(&b, "Environment=%s\n", systemdQuote("PATH="+CronPath, false))
	for _, v := range e.Env {
		fmt.Fprintf(&b, "Environment=%s\n", systemdQuote(v.Name+"="+v.Value, false))
	}
	words := ExecWords(e, o)
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = systemdQuote(w, true)
	}
	fmt.Fprintf(&b, "ExecStart=%s\n", strings.Join(q, " "))
	return []byte(b.String())
}

// ExecWords is the argv of an entry's service: cronguard run as the cron
// line runs it (Command), from CronguardPath, without the environment.
func ExecWords(e *Entry, o Options) []string {
	w := append([]string{CronguardPath}, runArgs(e)...)
	w = append(w, "--", path.Join(o.installDir(), e.Script))
	return append(w, e.Params...)
}

// systemdQuote writes one word of a unit file's command line (exec: true,
// where systemd expands $NAME too) or an Environment= assignment: bare
// when plain, else in double quotes with C escapes. '%' (a specifier) is
// doubled everywhere, '$' in a command line.
func systemdQuote(w string, exec bool) string {
	if safeWord(w) {
		return w
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(w); i++ {
		switch c := w[i]; {
		case c == '\\' || c == '"':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '%':
			b.WriteString("%%")
		case c == '$' && exec:
			b.WriteString("$$")
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// specifiers doubles '%' in a value systemd expands specifiers in.
func specifiers(s string) string { return strings.ReplaceAll(s, "%", "%%") }
