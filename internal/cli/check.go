package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/spf13/cobra"
)

// Nagios/Icinga plugin exit codes.
const (
	checkOK       = 0
	checkWarning  = 1
	checkCritical = 2
	checkUnknown  = 3
)

var checkStateName = [...]string{"OK", "WARNING", "CRITICAL", "UNKNOWN"}

type checkOptions struct {
	g       *globalOptions
	lock    string
	maxAge  time.Duration
	warnAge time.Duration
	now     func() time.Time
}

func newCheckCmd(g *globalOptions) *cobra.Command {
	o := &checkOptions{g: g, now: time.Now}
	cmd := &cobra.Command{
		Use:   "check --lock NAME --max-age D [--warn-age D]",
		Short: "Monitoring plugin: did the job succeed within D? (exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN)",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return o.unknownFlag(fmt.Errorf("unexpected argument %q", args[0]))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			code, line := o.run(cmd.Context())
			fmt.Fprintln(o.g.stdout, line)
			return exitCode(code)
		},
	}
	// A bad flag or flag value (unknown, unparsable, empty) is UNKNOWN with
	// the plugin's one line on stdout, not cronguard's exit 125.
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return o.unknownFlag(err) })
	cmd.Flags().StringVar(&o.lock, "lock", "", "the job's lock name (required)")
	cmd.Flags().Var(durationValue{&o.maxAge}, "max-age", "CRITICAL when the last success is older (required)")
	cmd.Flags().Var(durationValue{&o.warnAge}, "warn-age", "WARNING when the last success is older")
	return cmd
}

// unknownFlag prints the UNKNOWN line for a command-line problem and
// returns the plugin's exit code.
func (o *checkOptions) unknownFlag(err error) error {
	fmt.Fprintln(o.g.stdout, "CRONGUARD UNKNOWN - "+oneLine(err.Error()))
	return exitCode(checkUnknown)
}

// run returns the plugin's exit code and its one line: text | perfdata.
// Every failure, including bad flags and an unreachable ZooKeeper, is
// UNKNOWN, as monitoring expects of a plugin.
func (o *checkOptions) run(ctx context.Context) (int, string) {
	unknown := func(format string, args ...any) (int, string) {
		return checkUnknown, "CRONGUARD UNKNOWN - " + fmt.Sprintf(format, args...)
	}
	switch {
	case o.lock == "":
		return unknown("--lock is required")
	case o.maxAge <= 0:
		return unknown("--max-age is required")
	case o.warnAge > o.maxAge:
		return unknown("--warn-age %s is above --max-age %s", o.warnAge, o.maxAge)
	}
	a, err := o.g.dialAdmin(ctx)
	if err != nil {
		return unknown("%s", oneLine(err.Error()))
	}
	defer a.Close()
	data, _, err := a.conn.Get(a.st.root + "/runs/" + o.lock)
	if errors.Is(err, zk.ErrNoNode) {
		return unknown("no run of %s recorded in %s", o.lock, a.st.root)
	}
	if err != nil {
		return unknown("reading the run record of %s: %v", o.lock, err)
	}
	var rec runRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return unknown("the run record of %s is not valid JSON", o.lock)
	}
	return o.judge(&rec)
}

func (o *checkOptions) judge(rec *runRecord) (int, string) {
	now := o.now()
	warn := o.warnAge
	if warn == 0 {
		warn = o.maxAge
	}
	perf := func(age time.Duration) string {
		s := fmt.Sprintf("age=%ds;%d;%d", int64(age.Seconds()), int64(warn.Seconds()), int64(o.maxAge.Seconds()))
		if r := rec.LastRun; r != nil {
			s += fmt.Sprintf(" last_duration=%.3fs last_exit=%d", float64(r.DurationMS)/1000, r.Exit)
		}
		return s
	}
	if rec.LastSuccess == nil {
		text := fmt.Sprintf("%s never succeeded", o.lock)
		if r := rec.LastRun; r != nil {
			text += fmt.Sprintf("; last run %s ago on %s exited %d", ago(now, r.End), r.Host, r.Exit)
		}
		return checkCritical, "CRONGUARD CRITICAL - " + text + " | " + perf(0)
	}
	age := now.Sub(rec.LastSuccess.End)
	state := checkOK
	switch {
	case age > o.maxAge:
		state = checkCritical
	case age > warn:
		state = checkWarning
	}
	text := fmt.Sprintf("%s last succeeded %s ago on %s (limit %s)", o.lock, ago(now, rec.LastSuccess.End), rec.LastSuccess.Host, o.maxAge)
	if f := rec.LastFailure; f != nil && f.End.After(rec.LastSuccess.End) {
		text += fmt.Sprintf("; failed since: exit %d %s ago on %s", f.Exit, ago(now, f.End), f.Host)
	}
	return state, fmt.Sprintf("CRONGUARD %s - %s | %s", checkStateName[state], text, perf(age))
}
