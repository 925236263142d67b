package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cronguard/cronguard/internal/cli"
	"github.com/cronguard/cronguard/metadata"
)

// What cronguard's .deb holds besides the binaries, generated at build
// time from cronguard's own command tree and metadata's key table, so that
// none of it can drift from the code.

// Where Debian's shells look for completions shipped by packages.
const (
	bashCompletion = "/usr/share/bash-completion/completions/cronguard"
	zshCompletion  = "/usr/share/zsh/vendor-completions/_cronguard"
	fishCompletion = "/usr/share/fish/vendor_completions.d/cronguard.fish"
	logrotatePath  = "/etc/logrotate.d/cronguard"
	docExample     = "/usr/share/doc/cronguard/examples/config.json"
	docReadme      = "/usr/share/doc/cronguard/README.md.gz"
)

// completions writes cobra's bash, zsh and fish completions of root into
// dir and returns source -> installed path.
func completions(root *cobra.Command, dir string) (map[string]string, error) {
	out := map[string]string{}
	for _, c := range []struct {
		dst string
		gen func(*bytes.Buffer) error
	}{
		{bashCompletion, func(b *bytes.Buffer) error { return root.GenBashCompletionV2(b, true) }},
		{zshCompletion, func(b *bytes.Buffer) error { return root.GenZshCompletion(b) }},
		{fishCompletion, func(b *bytes.Buffer) error { return root.GenFishCompletion(b, true) }},
	} {
		var b bytes.Buffer
		if err := c.gen(&b); err != nil {
			return nil, fmt.Errorf("completion %s: %w", c.dst, err)
		}
		src := filepath.Join(dir, "completion-"+filepath.Base(c.dst))
		if err := os.WriteFile(src, b.Bytes(), 0o644); err != nil {
			return nil, err
		}
		out[src] = c.dst
	}
	return out, nil
}

// logrotateConf rotates the log file of the example config. cronguard
// opens the file anew for every run, so nothing needs a signal after a
// rotation; "create" without arguments gives the new file the old one's
// mode and owner, which the jobs' users may need to write it.
const logrotateConf = `# cronguard's log file: the "logfile" of /etc/cronguard/config.json when it
# is /var/log/cronguard.log, as in the example config. Each cron run opens
# the file anew, so no process needs a signal after a rotation. "create"
# without arguments keeps the file's mode and owner, which the jobs' users
# may need in order to write it.
/var/log/cronguard.log {
	weekly
	rotate 8
	compress
	delaycompress
	missingok
	notifempty
	create
}
`

// roff escapes text for a man page: backslashes, a leading dot or quote,
// and '-', which groff would otherwise typeset as a hyphen.
func roff(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
			l = `\&` + l
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "\n")
}

// item is one .TP paragraph: a bold tag, then text.
type item struct{ tag, text string }

func section(title string, intro string, items []item) string {
	var b strings.Builder
	fmt.Fprintf(&b, ".SH %s\n", title)
	if intro != "" {
		b.WriteString(roff(intro) + "\n")
	}
	for _, it := range items {
		fmt.Fprintf(&b, ".TP\n\\fB%s\\fP\n%s\n", roff(it.tag), roff(it.text))
	}
	return b.String()
}

var runExits = []item{
	{"the command's code", "CMD ran and exited."},
	{"128+N", "CMD died of signal N, also when cronguard stopped it (the host left the group, the lock or the ZooKeeper session was lost, the fence ran out, --timeout, a signal)."},
	{"--skip-code (default 0)", "Skipped, silently: this host is not eligible, the lock is busy, or the slot ran already."},
	{"124", "CMD was killed by --timeout."},
	{"125", "cronguard's own failure: a bad config, ZooKeeper unreachable, an unknown group, an invalid lock name, a missing prefix. One line on stderr names it."},
	{"126, 127", "CMD is not executable, or not found."},
}

var operatorExits = []item{
	{"0", "Done."},
	{"1", "Refused (a typo, a config that does not validate, a concurrent change) or, for a check, a difference found; nothing was written."},
	{"125", "cronguard's own failure: a bad local config, ZooKeeper unreachable. One line on stderr names it."},
}

// exitStatus is the EXIT STATUS of the command at path ("cronguard run").
func exitStatus(path string) []item {
	switch path {
	case "cronguard", "cronguard run":
		return runExits
	case "cronguard check":
		return []item{
			{"0", "OK."}, {"1", "WARNING."}, {"2", "CRITICAL."},
			{"3", "UNKNOWN: no record, ZooKeeper unreachable, a bad config."},
		}
	case "cronguard gen":
		return []item{
			{"0", "The files were written, or were already up to date."},
			{"1", "A problem in METADATA (each printed as file:line), a file in the way that gen did not write, or with --check, files that differ; nothing was written."},
			{"125", "Any other failure, named on stderr."},
		}
	case "cronguard preflight":
		return []item{
			{"0", "Nothing would change on this host."},
			{"1", "Something would: one line per finding on stdout."},
			{"125", "Any other failure, named on stderr."},
		}
	}
	return operatorExits
}

var globalEnv = []item{
	{"CRONGUARD_CONFIG", "The local config file (--config)."},
	{"CRONGUARD_ZK", "ZooKeeper servers, host:port,... (--zk; key zkhosts)."},
	{"CRONGUARD_PREFIX", "The prefix znode (--prefix; key prefix)."},
	{"CRONGUARD_HOSTNAME", "This host's identity in the fleet config (--hostname; key hostname)."},
	{"CRONGUARD_LOG_LEVEL", "debug, info, warn or error (--log-level; key loglevel)."},
	{"CRONGUARD_LOG_FORMAT", "json or console (--log-format; key log_format)."},
	{"CRONGUARD_LOG_FILE", "The log file, - for stderr (--log-file; key logfile)."},
	{"CRONGUARD_STATE_DIR", "Local state (key state_dir; default /var/lib/cronguard)."},
}

// environment is the ENVIRONMENT of the command at path: a flag beats
// its variable, which beats the config file.
func environment(path string) []item {
	env := append([]item(nil), globalEnv...)
	switch path {
	case "cronguard", "cronguard run":
		env = append(env,
			item{"CRONGUARD_LOCK, CRONGUARD_GROUP, CRONGUARD_RUN_ID", "Set by cronguard for CMD: its lock, group and run id."},
			item{"CRONGUARD_FENCE", "Set by cronguard for CMD: the lock node's czxid, a fencing token that grows with every new holder."},
			item{"POSIXLY_CORRECT", "In switchman's form, options end at the first word that is not one, as switchman's Getopt::Long did."})
	case "cronguard package":
		env = append(env,
			item{"DEBFULLNAME, DEBEMAIL, EMAIL", "The maintainer, \"$DEBFULLNAME <$DEBEMAIL>\", when --maintainer is not given."},
			item{"SOURCE_DATE_EPOCH", "The build time (default version, changelog and file dates), for reproducible builds."})
	case "cronguard config edit":
		env = append(env, item{"VISUAL, EDITOR", "The editor, tried in this order."})
	}
	return env
}

var files = []item{
	{"/etc/cronguard/config.json", "The local config (switchman's JSON keys and cronguard's own)."},
	{"/etc/switchman.conf", "Read when /etc/cronguard/config.json is absent."},
	{"/usr/share/doc/cronguard/examples/config.json", "An example local config."},
	{"/var/lib/cronguard", "Local state (state_dir): run-record entries waiting for ZooKeeper."},
	{"/var/log/cronguard.log", "The log file when the config's logfile names it (default: syslog); rotated by /etc/logrotate.d/cronguard."},
	{"/etc/cron.d", "Where the cron.d files of cronguard gen and the packages of cronguard package go."},
	{"/usr/lib/cronguard/cronguard-package", "The packager that cronguard package runs."},
	{cli.PingerInstallPath, "Sends the pings of runs with --ping or ping_url."},
	{cli.ShimInstallPath, "The job's shim, a small static program between cronguard and the job that kills the job's whole tree if cronguard dies; without it (next to cronguard or here) cronguard re-executes itself as the shim."},
}

// extraSections are the hand-written sections of a command's page, put
// before SEE ALSO.
func extraSections(path string) string {
	return section("EXIT STATUS", "", exitStatus(path)) +
		section("ENVIRONMENT", "A flag beats its environment variable, which beats the config file.", environment(path)) +
		section("FILES", "", files)
}

// seeAlsoMetadata are the pages that point to cronguard-metadata(5).
var seeAlsoMetadata = map[string]bool{"cronguard": true, "cronguard gen": true, "cronguard package": true}

// finishPage adds the hand-written sections to a page cobra/doc wrote
// for the command at path.
func finishPage(page []byte, path string) ([]byte, error) {
	s := string(page)
	i := strings.Index(s, ".SH SEE ALSO\n")
	if i < 0 {
		return nil, fmt.Errorf("man page of %s: no SEE ALSO section", path)
	}
	see := s[i:]
	if seeAlsoMetadata[path] {
		see = strings.TrimRight(see, "\n") + ", \\fBcronguard\\-metadata(5)\\fP\n"
	}
	return []byte(s[:i] + extraSections(path) + "\n" + see), nil
}

// keyDocs is the manual text of each METADATA key. metadataPage refuses
// to write a page that lacks a key of metadata.Keys or describes one that
// is gone, so that the page follows the parser.
var keyDocs = map[string]string{
	"time": "The schedule, as Debian's cron reads it: 5 fields (ranges, steps, lists, jan/mon names, 7 for Sunday) or " +
		"@hourly, @daily, @weekly, @monthly, @yearly, @annually, @midnight, @reboot. Required. A value cron would refuse, " +
		"a range that runs backwards and text after an item are refused.",
	"package": "The cron.d file and the Debian package the line goes to: letters, digits, _ and - only (cron silently skips " +
		"other file names; a .deb also wants lowercase). Required.",
	"params":  "The script's arguments, split like sh words (quotes, backslashes) but never expanded: an unquoted $, backquote, ;, |, &, <, >, glob or leading # or ~ is refused.",
	"user":    "The user the line runs as. Default root.",
	"group":   "The fleet group whose hosts run the job. Default: the package.",
	"lock":    "The fleet-wide lock. Default: the script's name, plus - and 8 hex digits of a hash of its params when the script has entries with different params.",
	"timeout": "Stop the job after this long (run --timeout): Go durations (90s, 10m) or seconds.",
	"wait":    "Wait this long for a busy lock (run --wait).",
	"splay":   "Delay the start by hash(lock) mod this (run --splay), the same on every host.",
	"lease":   "RES=COUNT:TOTAL, several separated by spaces: a lease of a resource listed in the fleet config; COUNT and TOTAL whole numbers, CPU or MEMMB.",
	"env":     "NAME=VALUE ... (sh words): the job's environment, set for its command only. SHELL and MAILTO are refused.",
	"mailto":  "MAILTO for this line; empty for no mail.",
	"output": "always (the default: the job's output passes through) or failure (run --output failure: held, written out " +
		"only when the run fails, so cron mails only failures).",
	"persistent": "yes or no (default): with gen --systemd, the timer catches up a run missed while the host was down " +
		"(Persistent=true); cron never does.",
	"nice":       "The job's nice value (run --nice), -20..19.",
	"ionice":     "The job's I/O scheduling class and level (run --ionice): realtime[:0-7], best-effort[:0-7] or idle.",
	"rlimit":     "NAME=SOFT[:HARD] ..., separated by spaces (run --rlimit): nofile, nproc, as, core, cpu, fsize, memlock, stack and the other setrlimit(2) limits; unlimited allowed.",
	"memory_max": "The memory limit of the job's whole tree through its cgroup (run --memory-max), e.g. 512M or 2G; an out-of-memory kill is reported as stop reason oom.",
	"cpu_max":    "The CPU limit of the job's whole tree through its cgroup (run --cpu-max), in percent of one CPU (150% is one and a half).",
}

// switchmanKeyDocs is the text of the keys of a <switchman> block.
var switchmanKeyDocs = map[string]string{
	"group":    "The fleet group. None: no --group, any host runs it, as switchman without -g.",
	"lockname": "The lock switchman took. Default: the script's name, the same for every entry of the script.",
}

func checkDocs(what string, keys []string, docs map[string]string) error {
	var missing, stale []string
	known := map[string]bool{}
	for _, k := range keys {
		known[k] = true
		if docs[k] == "" {
			missing = append(missing, k)
		}
	}
	for k := range docs {
		if !known[k] {
			stale = append(stale, k)
		}
	}
	sort.Strings(stale)
	if len(missing) > 0 || len(stale) > 0 {
		return fmt.Errorf("cronguard-metadata(5): %s keys without text %q, text for unknown keys %q", what, missing, stale)
	}
	return nil
}

// metadataPage is cronguard-metadata(5): the keys come from metadata.Keys
// and metadata.SwitchmanKeys, in their order.
func metadataPage(version string, date time.Time) ([]byte, error) {
	if err := checkDocs("METADATA", metadata.Keys, keyDocs); err != nil {
		return nil, err
	}
	if err := checkDocs("<switchman>", metadata.SwitchmanKeys, switchmanKeyDocs); err != nil {
		return nil, err
	}
	var keys, swKeys []item
	for _, k := range metadata.Keys {
		keys = append(keys, item{k, keyDocs[k]})
	}
	for _, k := range metadata.SwitchmanKeys {
		swKeys = append(swKeys, item{k, switchmanKeyDocs[k]})
	}
	var b strings.Builder
	fmt.Fprintf(&b, ".nh\n.TH \"CRONGUARD\\-METADATA\" \"5\" \"%s\" \"cronguard %s\" \"cronguard manual\"\n",
		date.Format("Jan 2006"), roff(version))
	b.WriteString(".SH NAME\ncronguard\\-metadata \\- the cron entries scripts carry in their headers, for cronguard gen\n")
	b.WriteString(section("DESCRIPTION",
		"cronguard gen and cronguard package read <crontab> blocks in the headers of scripts and write one cron.d file "+
			"(and package) per package key. A block holds one \"key: value\" per line and gives one cron line. A script "+
			"may hold any number of blocks, in Perl POD after \"=head1 METADATA\" up to \"=cut\", or in # or // comments:", nil))
	b.WriteString(".PP\n.nf\n.RS\n" + roff("# <crontab>\n#   package: batch\n#   time: 17 3 * * *\n#   params: --older-than 30d --stamp '+%Y-%m-%d'\n#   user: www-data\n# </crontab>") + "\n.RE\n.fi\n")
	b.WriteString(".PP\n" + roff("Every problem of every file is reported as file:line, and then nothing is written.") + "\n")
	b.WriteString(section("KEYS", "", keys))
	b.WriteString(section("SWITCHMAN'S FORM",
		"A file in which any <crontab> block nests a <switchman> block is read in switchman's form: an entry with "+
			"<switchman> runs under cronguard with that block's group, lock and leases (group, lock and lease are then "+
			"refused beside it); an entry without one stays a plain cron line, without cronguard. Blocks of other tools "+
			"(<juggler>, <monrun>, ...) are not read. The keys of <switchman>:", swKeys))
	b.WriteString(".TP\n\\fB<leases>\\fP\n" + roff("NAME: COUNT lines, COUNT a whole number, CPU or MEMMB; gen --lease-map NAME=RES:TOTAL maps each name to a resource.") + "\n")
	b.WriteString(".SH GENERATED LINES\n" + roff("Each entry gives the line") + "\n.PP\n.RS\n" +
		roff("TIME USER [ -x SCRIPT ] && [NAME=VALUE...] cronguard run [--group G] --lock L [--schedule SPEC] [flags] -- SCRIPT PARAMS") +
		"\n.RE\n.PP\n" + roff("or, for a plain entry, TIME USER [ -x SCRIPT ] && [NAME=VALUE...] SCRIPT PARAMS. SCRIPT is gen's "+
		"--install-dir (default /usr/libexec/cronguard) and the script's name. The test makes a line do nothing, silently, "+
		"once its script is gone: a removed job package leaves its cron.d file, a conffile, until it is purged. Every % "+
		"is written \\% for cron.") + "\n")
	b.WriteString(".SH SEE ALSO\n\\fBcronguard\\-gen(1)\\fP, \\fBcronguard\\-package(1)\\fP, \\fBcronguard(1)\\fP, \\fBcrontab(5)\\fP\n")
	return []byte(b.String()), nil
}
