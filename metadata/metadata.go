// Package metadata reads the cron entries that scripts carry in their
// headers (switchman's METADATA blocks) and turns them into cron.d files.
//
// Two header forms are read, with any number of blocks per script:
//
//	=head1 METADATA              # <crontab>
//	<crontab>                    #     package: reports
//	    package: reports         #     time: */2 * * * *
//	    time: */2 * * * *        # </crontab>
//	</crontab>
//	=cut                         (or the same with //)
//
// switchman-era files, which nest a <switchman> block in each guarded
// entry, are read too (switchman.go): their entries keep switchman's lock
// and their plain entries stay plain cron lines.
//
// Parse validates every field and reports every problem as
// "file:line: what is wrong"; Generate renders one deterministic cron.d
// file per package.
package metadata

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("metadata: invalid")

// Error is one problem in one file, at a line (0 when it concerns the whole
// file).
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	file := e.File
	if badNameChar(file) >= 0 {
		file = strconv.Quote(file) // one line, whatever the name holds
	}
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", file, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", file, e.Line, e.Msg)
}

func (e *Error) Unwrap() error { return ErrInvalid }

// Errors is every problem found, sorted by file and line. Its Error is one
// line per problem.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

func (es Errors) sort() {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].File != es[j].File {
			return es[i].File < es[j].File
		}
		return es[i].Line < es[j].Line
	})
}

// Entry is one <crontab> block: one cron line.
type Entry struct {
	Source string // the file, as it was named to Parse
	Line   int    // the line of <crontab>
	Script string // the file's base name: what the cron line runs

	Time    string   // the schedule, fields separated by one space
	Package string   // the cron.d file (and Debian package) it goes to
	Params  []string // the script's arguments, literal words
	User    string   // default root
	Group   string   // default: the package
	Lock    string   // explicit, or derived by Parse
	Timeout string   // durations as written; "" = not set
	Wait    string
	Splay   string
	Output  string   // run --output: "always", "failure"; "" = not set
	Leases  []string // RES=COUNT:TOTAL
	Env     []EnvVar // set for the command only, in order
	Mailto  *string  // nil: the file's default
	// Persistent: its systemd timer catches up a run missed while the host
	// was down (persistent: yes; systemd.go). Cron never does.
	Persistent bool
	// Resource limits, as written (run --nice, --ionice, --rlimit,
	// --memory-max, --cpu-max); "" / nil = not set.
	Nice, IONice, MemoryMax, CPUMax string
	Rlimits                         []string

	// LockExplicit tells whether Lock came from the block.
	LockExplicit bool

	// switchman's form (see switchman.go). Switchman: the entry nests a
	// <switchman> block and runs guarded with switchman's lock; its
	// <leases> are SwitchmanLeases until MapLeases sets Leases. Plain: the
	// entry has none in a file that uses the form, and is a plain cron
	// line without cronguard (Group, Lock and Leases are empty).
	Switchman       bool
	Plain           bool
	SwitchmanLeases []SwitchmanLease
	leasesMapped    bool
}

// EnvVar is one NAME=VALUE of the env key.
type EnvVar struct{ Name, Value string }

// Keys lists the keys a block may hold.
var Keys = []string{"cpu_max", "env", "group", "ionice", "lease", "lock", "mailto", "memory_max", "nice", "output", "package", "params", "persistent", "rlimit", "splay", "time", "timeout", "user", "wait"}
