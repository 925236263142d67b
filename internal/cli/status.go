package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/spf13/cobra"

	"github.com/cronguard/cronguard/config"
	"github.com/cronguard/cronguard/schedule"
)

type statusOptions struct {
	g      *globalOptions
	json   bool
	group  string
	nowFor func() time.Time
}

func newStatusCmd(g *globalOptions) *cobra.Command {
	o := &statusOptions{g: g, nowFor: time.Now}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show groups and their hosts, held locks and last runs",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context()) },
	}
	cmd.Flags().BoolVar(&o.json, "json", false, "machine-readable output (stable; see README)")
	cmd.Flags().StringVar(&o.group, "group", "", "only this group (and locks/runs of any job)")
	return cmd
}

// heldLock is one node under <prefix>/locks, from cronguard or switchman.
type heldLock struct {
	Lock    string    `json:"lock"`
	Host    string    `json:"host"`
	PID     int       `json:"pid,omitempty"`
	RunID   string    `json:"run_id,omitempty"`
	Since   time.Time `json:"since"`
	Fence   int64     `json:"fence"`
	Command string    `json:"command,omitempty"`
	Holder  string    `json:"holder"` // "cronguard", "switchman" or "unknown"
	Raw     string    `json:"raw,omitempty"`
}

// statusHost is this host's identity, where it came from, and the groups
// it is in (null when the fleet config is invalid).
type statusHost struct {
	identity
	Groups []string `json:"groups"`
}

// statusRun is a job's run record as status shows it (without its
// history) and, for a scheduled job, what its ledger says now: when it
// was registered (the record's creation), its next slot, and how many
// slots began since its last successful one without succeeding.
type statusRun struct {
	runRecord
	Registered         *time.Time `json:"registered,omitempty"`
	NextSlot           *time.Time `json:"next_slot,omitempty"`
	MissedSinceSuccess *int       `json:"missed_since_success,omitempty"`
	// zoneNote says the record's zone is unknown here (slots computed in
	// local time).
	zoneNote string
}

// newStatusRun fills in the ledger's view at now; created is when the
// record was made.
func newStatusRun(rec runRecord, created, now time.Time) statusRun {
	r := statusRun{runRecord: rec}
	if rec.Schedule == "" {
		return r
	}
	s, err := schedule.Parse(rec.Schedule)
	if err != nil {
		return r
	}
	loc, note := recordZone(rec.TZ)
	reg, next := created.UTC(), s.Next(now.In(loc))
	n := slotsWithoutSuccess(s, &rec, created, now, loc)
	r.Registered, r.NextSlot, r.MissedSinceSuccess, r.zoneNote = &reg, &next, &n, note
	return r
}

// statusSnapshot is what `status --json` prints.
type statusSnapshot struct {
	Prefix string              `json:"prefix"`
	Host   *statusHost         `json:"host,omitempty"`
	Groups map[string][]string `json:"groups"`
	Locks  []heldLock          `json:"locks"`
	Runs   []statusRun         `json:"runs"`
	Errors []string            `json:"errors,omitempty"`
	// fleetErr is why the fleet config could not be read: status shows
	// the rest, then exits 1.
	fleetErr error
}

func (o *statusOptions) run(ctx context.Context) error {
	a, err := o.g.dialAdmin(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	now := o.nowFor()
	snap, err := a.snapshot(o.group, now)
	if err != nil {
		return err
	}
	if o.json {
		enc := json.NewEncoder(o.g.stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(snap)
	} else {
		err = renderStatus(o.g.stdout, snap, now)
	}
	if err == nil && snap.fleetErr != nil {
		return refused("the fleet config in %s is broken: %v", snap.Prefix, snap.fleetErr)
	}
	return err
}

func (a *adminConn) snapshot(onlyGroup string, now time.Time) (*statusSnapshot, error) {
	data, _, err := a.readFleet()
	if err != nil {
		return nil, err
	}
	snap := &statusSnapshot{Prefix: a.st.root, Groups: map[string][]string{}, Locks: []heldLock{}, Runs: []statusRun{}}
	snap.Host = &statusHost{identity: a.st.identity.withSwitchman()}
	fleet, err := config.ParseFleet(data)
	if err != nil {
		snap.Errors = append(snap.Errors, fmt.Sprintf("fleet config: %v", err))
		snap.fleetErr = err
	} else {
		snap.Host.Groups = groupsOf(fleet, snap.Host.Name)
		if snap.Host.Groups == nil {
			snap.Host.Groups = []string{}
		}
		for g := range fleet.Groups {
			if onlyGroup != "" && g != onlyGroup {
				continue
			}
			hosts, _ := fleet.Hosts(g)
			snap.Groups[g] = hosts
		}
		if _, ok := fleet.Groups[onlyGroup]; onlyGroup != "" && !ok {
			return nil, fmt.Errorf("%w %q", config.ErrUnknownGroup, onlyGroup)
		}
	}
	names, err := a.children("/locks")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		d, st, err := a.conn.Get(a.st.root + "/locks/" + n)
		if errors.Is(err, zk.ErrNoNode) {
			continue // released while we looked
		}
		if err != nil {
			return nil, err
		}
		snap.Locks = append(snap.Locks, parseHolder(n, d, st))
	}
	runs, err := a.children("/runs")
	if err != nil {
		return nil, err
	}
	for _, n := range runs {
		d, st, err := a.conn.Get(a.st.root + "/runs/" + n)
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, err
		}
		rec := runRecord{Lock: n}
		if json.Unmarshal(d, &rec) != nil {
			snap.Errors = append(snap.Errors, fmt.Sprintf("run record %s is not valid JSON", n))
			continue
		}
		rec.History = nil // status shows the last runs; the record keeps the rest
		snap.Runs = append(snap.Runs, newStatusRun(rec, time.UnixMilli(st.Ctime), now))
	}
	return snap, nil
}

// children lists a sub-node of the prefix, sorted; a missing one is empty.
func (a *adminConn) children(sub string) ([]string, error) {
	names, _, err := a.conn.Children(a.st.root + sub)
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing %s%s: %w", a.st.root, sub, err)
	}
	sort.Strings(names)
	return names, nil
}

// parseHolder reads a lock node's data: cronguard's JSON, or switchman's
// "host pid".
func parseHolder(name string, data []byte, st *zk.Stat) heldLock {
	h := heldLock{Lock: name, Since: time.UnixMilli(st.Ctime).UTC(), Fence: st.Czxid, Holder: "unknown", Raw: string(data)}
	var j struct {
		Host    string `json:"host"`
		PID     int    `json:"pid"`
		RunID   string `json:"run_id"`
		Command string `json:"command"`
	}
	if json.Unmarshal(data, &j) == nil && j.Host != "" {
		h.Host, h.PID, h.RunID, h.Command, h.Holder, h.Raw = j.Host, j.PID, j.RunID, j.Command, "cronguard", ""
		return h
	}
	if f := strings.Fields(string(data)); len(f) == 2 {
		if pid, err := strconv.Atoi(f[1]); err == nil {
			h.Host, h.PID, h.Holder, h.Raw = f[0], pid, "switchman", ""
		}
	}
	return h
}

func renderStatus(w io.Writer, s *statusSnapshot, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "PREFIX %s\n", s.Prefix)
	if h := s.Host; h != nil {
		fmt.Fprintf(tw, "HOST   %s\n", h.identity)
		switch {
		case h.Groups == nil:
		case len(h.Groups) == 0:
			fmt.Fprintf(tw, "       in no group: every job skips on this host\n")
		default:
			fmt.Fprintf(tw, "       in groups: %s\n", strings.Join(h.Groups, ", "))
		}
	}
	fmt.Fprintf(tw, "\nGROUP\tHOSTS\n")
	groups := make([]string, 0, len(s.Groups))
	for g := range s.Groups {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	for _, g := range groups {
		hosts := strings.Join(s.Groups[g], ", ")
		if hosts == "" {
			hosts = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\n", g, hosts)
	}
	fmt.Fprintf(tw, "\nLOCK\tHOST\tPID\tSINCE\tFENCE\tCOMMAND\n")
	if len(s.Locks) == 0 {
		fmt.Fprintf(tw, "(none held)\t\t\t\t\t\n")
	}
	for _, l := range s.Locks {
		host, pid := l.Host, strconv.Itoa(l.PID)
		if l.Holder == "unknown" {
			host, pid = "?", "?"
		}
		cmd := l.Command
		if l.Holder == "switchman" {
			cmd = "(switchman)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s (%s ago)\t%d\t%s\n", l.Lock, host, pid,
			l.Since.Format(time.RFC3339), ago(now, l.Since), l.Fence, cmd)
	}
	fmt.Fprintf(tw, "\nJOB\tLAST RUN\tLAST SUCCESS\tLAST FAILURE\n")
	if len(s.Runs) == 0 {
		fmt.Fprintf(tw, "(no runs recorded)\t\t\t\n")
	}
	for _, r := range s.Runs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Lock, describeRun(r.LastRun, now), describeRun(r.LastSuccess, now), describeRun(r.LastFailure, now))
	}
	renderSlots(tw, s.Runs, now)
	for _, e := range s.Errors {
		fmt.Fprintf(tw, "\nwarning: %s\n", e)
	}
	return tw.Flush()
}

// renderSlots is the table of scheduled jobs: schedule and zone, the last
// slot (where, its outcome), the next slot, and the slots that began since
// the last successful one without succeeding.
func renderSlots(tw io.Writer, runs []statusRun, now time.Time) {
	header := false
	for _, r := range runs {
		if r.Schedule == "" {
			continue
		}
		if !header {
			fmt.Fprintf(tw, "\nSCHEDULED JOB\tSCHEDULE\tLAST SLOT\tNEXT SLOT\tMISSED SINCE SUCCESS\n")
			header = true
		}
		sched := r.Schedule
		if r.TZ != "" {
			sched += " (" + r.TZ + ")"
		}
		last := "never ran"
		if r.Registered != nil {
			last += " (registered " + ago(now, *r.Registered) + " ago)"
		}
		if c := r.LastSlot; c != nil {
			last = fmt.Sprintf("%s on %s, %s", schedule.Key(c.Slot), c.Host, c.Outcome)
			if c.Exit != nil && *c.Exit != 0 {
				last += fmt.Sprintf(" (exit %d)", *c.Exit)
			}
		}
		next, missed := "?", "?"
		if r.NextSlot != nil {
			next = schedule.Key(*r.NextSlot)
		}
		if r.MissedSinceSuccess != nil {
			missed = countText(*r.MissedSinceSuccess)
		}
		if r.zoneNote != "" {
			missed += " (" + r.zoneNote + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Lock, sched, last, next, missed)
	}
}

func describeRun(e *runEntry, now time.Time) string {
	if e == nil {
		return "-"
	}
	s := fmt.Sprintf("%s ago on %s, exit %d, %s", ago(now, e.End), e.Host, e.Exit,
		(time.Duration(e.DurationMS) * time.Millisecond).Round(time.Millisecond))
	if e.StopReason != "" {
		s += ", stopped: " + e.StopReason
	}
	if e.FailedBeforeStart != "" {
		s += ", did not start: " + e.FailedBeforeStart
	}
	return s
}

func ago(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Hour:
		return d.Round(time.Second).String()
	case d < 48*time.Hour:
		return d.Round(time.Minute).String()
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
