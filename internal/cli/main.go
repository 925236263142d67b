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
	root := newRootCmd(os.Stdout, os.Stderr)
	root.SetArgs(switchmanForm(args[1:], root.commandNames(), root.takesValue))
	err := root.Execute()
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
			fmt.Fprintf(stderr, "cronguard: %s\n", oneLine(ee.err.Error()))
		}
		return ee.code
	}
	fmt.Fprintf(stderr, "cronguard: %s\n", oneLine(err.Error()))
	return ExitOwnFailure
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// switchmanForm turns `cronguard [flags] -- CMD` (switchman's form, with no
// subcommand) into `cronguard run [flags] -- CMD`. takesValue tells which
// flags consume the next argument, so that a flag's value is not mistaken
// for a subcommand.
func switchmanForm(args []string, commands map[string]bool, takesValue func(string) bool) []string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return append([]string{"run"}, args...)
		case strings.HasPrefix(a, "-"):
			if !strings.Contains(a, "=") && takesValue(a) {
				i++
			}
		case commands[a]:
			return args
		default:
			return args // a stray word: let cobra report it
		}
	}
	return args
}
