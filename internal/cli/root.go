package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cronguard/cronguard/config"
)

// switchmanConfigPath is the fallback when config.DefaultPath is absent, so
// that a host migrating from switchman needs no new file.
const switchmanConfigPath = "/etc/switchman.conf"

// globalOptions are the flags every command shares. Each has an environment
// variable and a config-file key; flags win over env, env over the file.
type globalOptions struct {
	configPath string
	zk         string
	prefix     string
	hostname   string
	logLevel   string
	logFormat  string
	logFile    string

	stdout, stderr io.Writer
	getenv         func(string) string
	// stdin and isTerminal stand in for os.Stdin and whether it is a
	// terminal (tests); nil: the real ones.
	stdin      io.Reader
	isTerminal func() bool
}

type rootCmd struct {
	*cobra.Command
	g *globalOptions
}

// newRootCmd builds the whole command tree.
func newRootCmd(stdout, stderr io.Writer) *rootCmd {
	r := newRunOnlyRootCmd(stdout, stderr)
	r.addOtherCommands()
	return r
}

// newRunOnlyRootCmd is the root with run as its only command, for Main's
// cron runs: building the other commands, their flags and cobra's
// completion command cost every run about 0.15 M instructions. Main keeps
// it only for a line that cobra resolves to run, whose parsing, help and
// errors do not involve the other commands; for anything else it adds the
// others (addOtherCommands), which makes it newRootCmd's tree.
func newRunOnlyRootCmd(stdout, stderr io.Writer) *rootCmd {
	r := newBareRootCmd(stdout, stderr)
	r.CompletionOptions.DisableDefaultCmd = true
	r.AddCommand(newRunCmd(r.g))
	return r
}

// addOtherCommands completes newRunOnlyRootCmd's tree: every command but
// run, and cobra's completion command.
func (r *rootCmd) addOtherCommands() {
	g := r.g
	r.CompletionOptions.DisableDefaultCmd = false
	r.AddCommand(newConfigCmd(g), newAssignCmd(g, true), newAssignCmd(g, false), newStatusCmd(g), newHistoryCmd(g), newExplainCmd(g), newCheckCmd(g), newManCmd(g), newVersionCmd(g), newGenCmd(g), newPackageCmd(g), newPreflightCmd(g))
}

// commandWords are the words newRootCmd's commandNames returns, known
// without building the tree (switchman's form needs them on every run).
// TestCommandWords holds the two together.
var commandWords = map[string]bool{"help": true, "completion": true,
	cobra.ShellCompRequestCmd: true, cobra.ShellCompNoDescRequestCmd: true,
	"run": true, "config": true, "assign": true, "unassign": true, "status": true, "history": true,
	"explain": true, "check": true, "man": true, "version": true, "gen": true, "package": true, "preflight": true}

// newBareRootCmd is the root command and its global flags, no commands.
func newBareRootCmd(stdout, stderr io.Writer) *rootCmd {
	g := &globalOptions{stdout: stdout, stderr: stderr, getenv: os.Getenv}
	cmd := &cobra.Command{
		Use:           "cronguard",
		Short:         "Run cron jobs on the hosts assigned to them, never twice at once",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
		// No command may set a PersistentPreRunE of its own: cobra runs
		// only the nearest one, and this check must run for every command.
		PersistentPreRunE: refuseEmptyFlags,
	}
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	f := cmd.PersistentFlags()
	f.StringVarP(&g.configPath, "config", "c", "", "local config file (env CRONGUARD_CONFIG; default "+config.DefaultPath+", else "+switchmanConfigPath+")")
	f.StringVar(&g.zk, "zk", "", "ZooKeeper servers host:port,... (env CRONGUARD_ZK; key zkhosts)")
	f.StringVar(&g.prefix, "prefix", "", "ZooKeeper prefix znode (env CRONGUARD_PREFIX; key prefix)")
	f.StringVar(&g.hostname, "hostname", "", "identity used for eligibility (env CRONGUARD_HOSTNAME; key hostname; default switchman's: Perl Net::Domain::hostfqdn)")
	f.StringVar(&g.logLevel, "log-level", "", "debug|info|warn|error (env CRONGUARD_LOG_LEVEL; key loglevel; default info)")
	f.StringVar(&g.logFormat, "log-format", "", "json|console (env CRONGUARD_LOG_FORMAT; key log_format; default json)")
	f.StringVar(&g.logFile, "log-file", "", "log file, - for stderr (env CRONGUARD_LOG_FILE; key logfile; default journald, else syslog, else <state_dir>/cronguard.log)")
	cmd.CompletionOptions.HiddenDefaultCmd = false
	return &rootCmd{cmd, g}
}

// allowEmptyAnnotation marks a flag whose empty value means something
// (--mailto "": no mail), so refuseEmptyFlags lets it through.
const allowEmptyAnnotation = "cronguard_allow_empty"

// allowEmpty marks flag name of fs as one that may be given "".
func allowEmpty(fs *pflag.FlagSet, name string) {
	if err := fs.SetAnnotation(name, allowEmptyAnnotation, []string{"true"}); err != nil {
		panic(err) // a programming error: no such flag
	}
}

// refuseEmptyFlags refuses a string flag (or an item of a repeatable one)
// explicitly given an empty value, on whatever command is run, before it
// runs: `-g ""` must never read as "no group", which would run the job on
// every host, and `--lock ""`, `--zk ""` or `--log-file ""` as the default.
// Only flags marked with allowEmpty take "" (gen's and package's --mailto:
// no mail). The error goes through the command's flag error function, so
// check reports it as UNKNOWN like any other bad flag; elsewhere it is
// exit 125.
func refuseEmptyFlags(cmd *cobra.Command, _ []string) error {
	var bad *pflag.Flag
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if bad != nil || f.Annotations[allowEmptyAnnotation] != nil {
			return
		}
		switch v := f.Value.(type) {
		case pflag.SliceValue:
			for _, item := range v.GetSlice() {
				if item == "" {
					bad = f
				}
			}
		default:
			if v.Type() == "string" && v.String() == "" {
				bad = f
			}
		}
	})
	if bad == nil {
		return nil
	}
	return cmd.FlagErrorFunc()(cmd, fmt.Errorf("--%s: empty value", bad.Name))
}

func (r *rootCmd) commandNames() map[string]bool {
	// cobra's hidden __complete commands too: the shell completions
	// call them, and switchman's form must not read them as a job.
	names := map[string]bool{"help": true, "completion": true,
		cobra.ShellCompRequestCmd: true, cobra.ShellCompNoDescRequestCmd: true}
	for _, c := range r.Commands() {
		names[c.Name()] = true
		for _, a := range c.Aliases {
			names[a] = true
		}
	}
	return names
}

// runFlag reports whether --name is a global flag or one of run's (the
// switchman form's), and whether it consumes the next argument.
func (r *rootCmd) runFlag(name string) (known, takesValue bool) {
	run, _, err := r.Find([]string{"run"})
	if err != nil {
		return false, false
	}
	for _, fs := range []*pflag.FlagSet{r.PersistentFlags(), run.Flags()} {
		if f := fs.Lookup(name); f != nil {
			return true, f.NoOptDefVal == ""
		}
	}
	return false, false
}

// settings are the resolved global options.
type settings struct {
	local    *config.Local
	warnings []string
	source   string // the config file, or "flags and environment"
	root     string // chroot + prefix: the prefix znode as go-zookeeper sees it
	hostname string
	identity identity // hostname and where it came from
}

// resolve merges defaults, the config file, env and flags.
func (g *globalOptions) resolve() (*settings, error) {
	path := firstNonEmpty(g.configPath, g.getenv("CRONGUARD_CONFIG"))
	explicit := path != ""
	if !explicit {
		path = config.DefaultPath
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			if _, err := os.Stat(switchmanConfigPath); err == nil {
				path = switchmanConfigPath
			}
		}
	}
	st := &settings{source: path}
	local, warnings, err := config.LoadLocalPartial(path)
	switch {
	case err == nil:
		st.local, st.warnings = local, warnings
	case !explicit && errors.Is(err, fs.ErrNotExist):
		st.local, st.source = config.DefaultLocal(), "flags and environment"
	default:
		return nil, err
	}
	l := st.local
	if zk := firstNonEmpty(g.zk, g.getenv("CRONGUARD_ZK")); zk != "" {
		if err := l.SetZKHosts(zk); err != nil {
			return nil, fmt.Errorf("--zk: %w", err)
		}
	}
	if p := firstNonEmpty(g.prefix, g.getenv("CRONGUARD_PREFIX")); p != "" {
		if err := config.ValidatePrefix(p); err != nil {
			return nil, fmt.Errorf("--prefix: %w", err)
		}
		l.Prefix = p
	}
	switch {
	case g.hostname != "":
		st.identity = identity{Name: g.hostname, Source: "--hostname"}
	case g.getenv("CRONGUARD_HOSTNAME") != "":
		st.identity = identity{Name: g.getenv("CRONGUARD_HOSTNAME"), Source: "env CRONGUARD_HOSTNAME"}
	case l.Hostname != "":
		st.identity = identity{Name: l.Hostname, Source: "config hostname (" + st.source + ")"}
	}
	l.Hostname = st.identity.Name
	if d := g.getenv("CRONGUARD_STATE_DIR"); d != "" {
		l.StateDir = d
	}
	l.LogLevel = firstNonEmpty(g.logLevel, g.getenv("CRONGUARD_LOG_LEVEL"), l.LogLevel, config.DefaultLogLevel)
	l.LogFormat = firstNonEmpty(g.logFormat, g.getenv("CRONGUARD_LOG_FORMAT"), l.LogFormat, "json")
	l.LogFile = firstNonEmpty(g.logFile, g.getenv("CRONGUARD_LOG_FILE"), l.LogFile)
	if err := l.Validate(st.source); err != nil {
		return nil, err
	}
	st.root = l.Root()
	if st.identity.Name == "" {
		st.identity = switchmanIdentity()
	}
	st.hostname = st.identity.Name
	return st, nil
}

func (s *settings) logWarnings(log zerolog.Logger) {
	for _, w := range s.warnings {
		log.Warn().Msg(w)
	}
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// durationValue is a flag that takes Go durations ("90s") or plain seconds
// ("90"), as switchman's config keys are seconds.
type durationValue struct{ d *time.Duration }

func (v durationValue) String() string {
	if v.d == nil {
		return "0s"
	}
	return v.d.String()
}

func (v durationValue) Set(s string) error {
	d, err := config.ParseDuration(s)
	if err != nil {
		return err
	}
	*v.d = d
	return nil
}

func (v durationValue) Type() string { return "duration" }
