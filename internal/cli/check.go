package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
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
	grace   time.Duration
	all     bool
	nowFlag string
	now     func() time.Time
}

func newCheckCmd(g *globalOptions) *cobra.Command {
	o := &checkOptions{g: g, now: time.Now}
	cmd := &cobra.Command{
		Use:   "check --lock NAME [--max-age D [--warn-age D] | --grace D] | check --all [--grace D]",
		Short: "Monitoring plugin: did the job succeed within D, or run every slot of its schedule? (exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN)",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return o.unknownFlag(fmt.Errorf("unexpected argument %q", args[0]))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.nowFlag != "" {
				t, err := time.Parse(time.RFC3339Nano, o.nowFlag)
				if err != nil {
					return o.unknownFlag(fmt.Errorf("--now %q: want an RFC 3339 time", o.nowFlag))
				}
				o.now = func() time.Time { return t }
			}
			code, line := o.run(cmd.Context())
			fmt.Fprintln(o.g.stdout, line)
			return exitCode(code)
		},
	}
	// A bad flag or flag value (unknown, unparsable, empty) is UNKNOWN with
	// the plugin's one line on stdout, not cronguard's exit 125.
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return o.unknownFlag(err) })
	cmd.Flags().StringVar(&o.lock, "lock", "", "the job's lock name (required)")
	cmd.Flags().Var(durationValue{&o.maxAge}, "max-age", "CRITICAL when the last success is older (without it: the schedule in the run record decides)")
	cmd.Flags().Var(durationValue{&o.warnAge}, "warn-age", "WARNING when the last success is older")
	cmd.Flags().Var(durationValue{&o.grace}, "grace", "a slot is missed when it began longer ago with no run (default: half the schedule's interval, at most 10m)")
	cmd.Flags().BoolVar(&o.all, "all", false, "check every scheduled job under <prefix>/runs: a summary line, then one line per job in trouble")
	cmd.Flags().StringVar(&o.nowFlag, "now", "", "judge as if it were this RFC 3339 time (tests)")
	_ = cmd.Flags().MarkHidden("now")
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
	case o.all && (o.lock != "" || o.maxAge != 0 || o.warnAge != 0):
		return unknown("--all checks every scheduled job: no --lock, --max-age or --warn-age")
	case o.all:
	case o.lock == "":
		return unknown("--lock is required (or --all)")
	case o.maxAge > 0 && o.grace > 0:
		return unknown("--grace is for a schedule check, --max-age for an age check: not both")
	case o.maxAge <= 0 && o.warnAge > 0:
		return unknown("--warn-age needs --max-age")
	case o.warnAge > o.maxAge:
		return unknown("--warn-age %s is above --max-age %s", o.warnAge, o.maxAge)
	}
	a, err := o.g.dialAdmin(ctx)
	if err != nil {
		return unknown("%s", oneLine(err.Error()))
	}
	defer a.Close()
	if o.all {
		return o.checkAll(a)
	}
	data, st, err := a.conn.Get(a.st.root + "/runs/" + o.lock)
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
	if o.maxAge > 0 {
		return o.judge(&rec)
	}
	if rec.Schedule == "" {
		return unknown("--max-age is required: the run record of %s has no schedule (its runs had no --schedule)", o.lock)
	}
	now := o.now()
	v := judgeSchedule(o.lock, &rec, time.UnixMilli(st.Ctime), now, o.grace)
	return v.state, fmt.Sprintf("CRONGUARD %s - %s | %s", checkStateName[v.state], v.text, slotPerf(&rec, v, now))
}

// checkAll judges every scheduled job under <prefix>/runs in one plugin
// call: a summary line with perfdata, then one line per job in trouble,
// worst first; the exit code is the worst job's. Records without a
// schedule (jobs run without --schedule, switchman's) have no bound to
// judge by: they are counted in the summary and left to check --lock
// --max-age. An unreadable record is UNKNOWN.
func (o *checkOptions) checkAll(a *adminConn) (int, string) {
	names, err := a.children("/runs")
	if err != nil {
		return checkUnknown, "CRONGUARD UNKNOWN - " + oneLine(err.Error())
	}
	now := o.now()
	type result struct {
		lock string
		v    slotVerdict
	}
	var bad []result
	var counts [4]int
	unscheduled, missed := 0, 0
	for _, n := range names {
		data, st, err := a.conn.Get(a.st.root + "/runs/" + n)
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return checkUnknown, fmt.Sprintf("CRONGUARD UNKNOWN - reading the run record of %s: %v", n, err)
		}
		rec := runRecord{Lock: n}
		var v slotVerdict
		switch {
		case json.Unmarshal(data, &rec) != nil:
			v = slotVerdict{state: checkUnknown, text: fmt.Sprintf("%s: the run record is not valid JSON", n)}
		case rec.Schedule == "":
			unscheduled++
			continue
		default:
			v = judgeSchedule(n, &rec, time.UnixMilli(st.Ctime), now, o.grace)
		}
		counts[v.state]++
		missed += v.missed
		if v.state != checkOK {
			bad = append(bad, result{n, v})
		}
	}
	worst := checkOK
	for _, st := range []int{checkWarning, checkUnknown, checkCritical} {
		if counts[st] > 0 {
			worst = st
		}
	}
	rank := map[int]int{checkCritical: 0, checkUnknown: 1, checkWarning: 2}
	sort.SliceStable(bad, func(i, j int) bool { return rank[bad[i].v.state] < rank[bad[j].v.state] })
	jobs := counts[0] + counts[1] + counts[2] + counts[3]
	var b strings.Builder
	fmt.Fprintf(&b, "CRONGUARD %s - %d scheduled %s: %d OK, %d WARNING, %d CRITICAL, %d UNKNOWN",
		checkStateName[worst], jobs, plural(jobs, "job", "jobs"), counts[0], counts[1], counts[2], counts[3])
	if unscheduled > 0 {
		fmt.Fprintf(&b, "; %d without a schedule, not checked", unscheduled)
	}
	fmt.Fprintf(&b, " | jobs=%d ok=%d warning=%d critical=%d unknown=%d missed=%d unscheduled=%d",
		jobs, counts[0], counts[1], counts[2], counts[3], missed, unscheduled)
	for _, r := range bad {
		fmt.Fprintf(&b, "\n%s - %s", checkStateName[r.v.state], r.v.text)
	}
	return worst, b.String()
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
