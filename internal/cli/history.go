package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/spf13/cobra"

	"github.com/cronguard/cronguard/lock"
)

type historyOptions struct {
	g     *globalOptions
	json  bool
	limit int
}

func newHistoryCmd(g *globalOptions) *cobra.Command {
	o := &historyOptions{g: g}
	cmd := &cobra.Command{
		Use:   "history LOCK",
		Short: "Show a job's past runs from its run record, newest first",
		Args:  cobra.ExactArgs(1),
		RunE:  func(cmd *cobra.Command, args []string) error { return o.run(cmd.Context(), args[0]) },
	}
	cmd.Flags().BoolVar(&o.json, "json", false, "machine-readable output: the record's run entries as stored (stable; see README)")
	cmd.Flags().IntVar(&o.limit, "limit", 0, "show at most N runs (0: all the record keeps, runs_history)")
	return cmd
}

// historyEntry is a run entry as history reads it (older records lack the
// profile: its columns then show "-").
type historyEntry struct {
	runEntry
}

// peakKB is the run's peak memory: the cgroup's where there was one, else
// the rusage high-water mark; 0 when the record does not say.
func (e historyEntry) peakKB() int64 {
	if e.PeakMemoryKB > 0 {
		return e.PeakMemoryKB
	}
	return e.MaxRSSKB
}

// historyOutput is what `history --json` prints: the entries exactly as
// the record holds them (so fields this version does not know pass
// through), newest first.
type historyOutput struct {
	Lock string            `json:"lock"`
	Runs []json.RawMessage `json:"runs"`
}

func (o *historyOptions) run(ctx context.Context, name string) error {
	if o.limit < 0 {
		return refused("--limit %d: must be 0 (all) or more", o.limit)
	}
	if err := lock.ValidateName(name); err != nil {
		return refused("%v", err)
	}
	a, err := o.g.dialAdmin(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	p := a.st.root + "/runs/" + name
	data, _, err := a.conn.Get(p)
	if errors.Is(err, zk.ErrNoNode) {
		return refused("no run record for %s (%s): it never ran under cronguard, or under another name or prefix", name, p)
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", p, err)
	}
	raw, entries, err := parseHistory(data)
	if err != nil {
		return refused("run record %s: %v", p, err)
	}
	if o.limit > 0 && len(entries) > o.limit {
		raw, entries = raw[:o.limit], entries[:o.limit]
	}
	if o.json {
		enc := json.NewEncoder(o.g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(historyOutput{Lock: name, Runs: raw})
	}
	return renderHistory(o.g.stdout, name, entries)
}

// parseHistory returns a record's history, newest first, raw and parsed.
// A record with no history (written by a version that kept none) gives
// its last run.
func parseHistory(data []byte) ([]json.RawMessage, []historyEntry, error) {
	var rec struct {
		LastRun json.RawMessage   `json:"last_run"`
		History []json.RawMessage `json:"history"`
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, nil, fmt.Errorf("not valid JSON: %v", err)
	}
	raw := rec.History
	if len(raw) == 0 && len(rec.LastRun) > 0 && string(rec.LastRun) != "null" {
		raw = []json.RawMessage{rec.LastRun}
	}
	if raw == nil {
		raw = []json.RawMessage{}
	}
	entries := make([]historyEntry, len(raw))
	for i, r := range raw {
		if err := json.Unmarshal(r, &entries[i]); err != nil {
			return nil, nil, fmt.Errorf("history entry %d: %v", i+1, err)
		}
	}
	return raw, entries, nil
}

// renderHistory prints one line per run; the SLOT, PEAK MEM and CPU columns
// appear when some run has them.
func renderHistory(w io.Writer, name string, entries []historyEntry) error {
	if len(entries) == 0 {
		_, err := fmt.Fprintf(w, "%s: no runs in its record\n", name)
		return err
	}
	var slots, rss, cpu bool
	for _, e := range entries {
		slots = slots || e.Slot != nil
		rss = rss || e.peakKB() > 0
		cpu = cpu || e.UserCPUMS > 0 || e.SysCPUMS > 0
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	cols := []string{"START", "END", "HOST", "EXIT", "DURATION", "STOPPED"}
	if slots {
		cols = append(cols, "SLOT")
	}
	if rss {
		cols = append(cols, "PEAK MEM")
	}
	if cpu {
		cols = append(cols, "CPU USER/SYS")
	}
	fmt.Fprintln(tw, strings.Join(cols, "\t"))
	for _, e := range entries {
		stop := e.StopReason
		if stop == "" {
			stop = "-"
		}
		row := []string{timeText(e.Start), timeText(e.End), e.Host, strconv.Itoa(e.Exit),
			(time.Duration(e.DurationMS) * time.Millisecond).Round(time.Millisecond).String(), stop}
		if slots {
			s := "-"
			if e.Slot != nil {
				s = e.Slot.Format(time.RFC3339)
			}
			row = append(row, s)
		}
		if rss {
			row = append(row, kibText(e.peakKB()))
		}
		if cpu {
			row = append(row, msText(e.UserCPUMS)+" / "+msText(e.SysCPUMS))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format(time.RFC3339)
}

// kibText shows a size in KiB as MiB above 1 MiB; "-" for none.
func kibText(kb int64) string {
	switch {
	case kb <= 0:
		return "-"
	case kb >= 1024:
		return strconv.FormatFloat(float64(kb)/1024, 'f', 1, 64) + " MiB"
	}
	return strconv.FormatInt(kb, 10) + " KiB"
}

// msText shows CPU milliseconds as a duration; "-" for none recorded.
func msText(ms int64) string {
	if ms <= 0 {
		return "-"
	}
	return (time.Duration(ms) * time.Millisecond).String()
}
