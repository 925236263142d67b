// Package cli holds cronguard's commands: one file each, an options struct,
// a constructor that registers flags, and a run function returning an error.
// Main maps errors to exit codes in one place.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/rs/zerolog"

	"github.com/cronguard/cronguard/supervise"
)

// Exit codes of the contract.
const (
	ExitTimeout       = 124
	ExitOwnFailure    = 125
	ExitNotExecutable = 126
	ExitNotFound      = 127
)

// exitError carries an exit code other than 125: the child's own code, a
// skip, a timeout, 126/127, a refused operator change. Main prints err, when
// set, as one line on stderr.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err != nil {
		return e.err.Error()
	}
	return fmt.Sprintf("exit %d", e.code)
}

func (e *exitError) Unwrap() error { return e.err }

// exitCode returns an error that makes Main exit with code and print nothing.
func exitCode(code int) error { return &exitError{code: code} }

// Main runs cronguard with os.Args and returns the process exit code.
func Main(args []string) int {
	if supervise.IsShim(args[1:]) {
		return supervise.RunShim(args[1:])
	}
	// A write to a closed stdout or stderr (cron's pipe gone) must fail
	// with EPIPE, not kill cronguard by SIGPIPE as Go does by default for
	// fds 1 and 2: dead on a warning, it would leave the lock held until
	// the session expires and write no run record. Caught, not ignored
	// (signal.Ignore): an ignored disposition is inherited across exec by
	// the job, a caught one is reset to the default there, so `yes | head`
	// in a job still ends as it should. Nobody reads the channel.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	// Milliseconds in log timestamps: stop latencies are tens of them.
	zerolog.TimeFieldFormat = "2006-01-02T15:04:05.000Z07:00"
	// The run command alone when the line runs it (a cron run: start-up
	// is paid on every one), else the whole tree; see newRunOnlyRootCmd.
	root := newRunOnlyRootCmd(os.Stdout, os.Stderr)
	cobraArgs, err := switchmanForm(args[1:], commandWords, root.runFlag)
	if err == nil {
		if c, _, ferr := root.Find(cobraArgs); ferr != nil || c == root.Command {
			root.addOtherCommands()
		}
		root.SetArgs(cobraArgs)
		err = root.Execute()
	}
	return mapError(err, os.Stderr)
}

// mapError is the one place that turns errors into exit codes.
func mapError(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(stderr, "cronguard: %s\n", userText(ee.err))
		}
		return ee.code
	}
	fmt.Fprintf(stderr, "cronguard: %s\n", userText(err))
	return ExitOwnFailure
}

// userText is err as the operator reads it: one line, without the package
// prefixes of Go's sentinel errors ("lock: invalid lock name" is "invalid
// lock name"), wherever they are in the chain of wrapped messages.
func userText(err error) string {
	s := oneLine(err.Error())
	for _, p := range goPackagePrefixes {
		if strings.HasPrefix(s, p) {
			s = s[len(p):]
		}
		s = strings.ReplaceAll(s, ": "+p, ": ")
		s = strings.ReplaceAll(s, "("+p, "(")
	}
	return s
}

// goPackagePrefixes are the prefixes of the packages' own error messages.
var goPackagePrefixes = []string{"lock: ", "lease: ", "session: ", "supervise: ", "config: "}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// switchmanForm turns switchman's form (no subcommand) into `cronguard run
// OPTIONS -- CMD`, parsed as switchman 1.16 parsed it (switchmanArgs):
// `cronguard -c CONF -g G --lockname X CMD ARGS` with no "--", "-lockname",
// "--lockn", "--nolock" and so on. A first word (after the options) that is
// one of cronguard's subcommands stays a subcommand (`cronguard --zk h:1
// status`): a job named like one must come after "--" (`cronguard -g G --
// status`). Without a command word or "--", args are left to cobra. A line
// switchman refused (an unknown option, say a command's own "-x" with no
// "--" before it) is an error.
func switchmanForm(args []string, commands map[string]bool, cronguardFlag runFlagLookup) ([]string, error) {
	// The first word that is not an option or an option's value.
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if strings.HasPrefix(a, "-") && a != "-" || strings.HasPrefix(a, "+") {
			name, _, hasArg := strings.Cut(strings.TrimLeft(a, "-+"), "=")
			if hasArg {
				continue
			}
			if _, takes := cronguardOnlyFlag(cronguardFlag, name, false); takes && strings.HasPrefix(a, "--") {
				i++
			} else if opt, err := resolveSwitchmanOpt(name, false); err == nil && switchmanOpts[opt].value {
				i++
			}
			continue
		}
		if commands[a] {
			return args, nil
		}
		break
	}
	_, posix := os.LookupEnv("POSIXLY_CORRECT")
	out, ok, err := switchmanArgs(args, cronguardFlag, posix)
	if err != nil || !ok {
		return args, err
	}
	return out, nil
}
