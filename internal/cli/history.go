package cli

import (
	"bytes"
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

// historyEntry is a run entry as history reads it: the record's fields,
// and the resource usage a newer writer may add (absent in older records;
// any JSON number or string is shown as it is).
type historyEntry struct {
	runEntry
	MaxRSSKB json.RawMessage `json:"max_rss_kb,omitempty"`
	UserCPU  json.RawMessage `json:"user_cpu,omitempty"`
	SysCPU   json.RawMessage `json:"sys_cpu,omitempty"`
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

// renderHistory prints one line per run; the SLOT, MAX RSS and CPU columns
// appear when some run has them.
func renderHistory(w io.Writer, name string, entries []historyEntry) error {
	if len(entries) == 0 {
		_, err := fmt.Fprintf(w, "%s: no runs in its record\n", name)
		return err
	}
	var slots, rss, cpu bool
	for _, e := range entries {
		slots = slots || e.Slot != nil
		rss = rss || len(e.MaxRSSKB) > 0
		cpu = cpu || len(e.UserCPU) > 0 || len(e.SysCPU) > 0
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	cols := []string{"START", "END", "HOST", "EXIT", "DURATION", "STOPPED"}
	if slots {
		cols = append(cols, "SLOT")
	}
	if rss {
		cols = append(cols, "MAX RSS")
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
			row = append(row, kibText(e.MaxRSSKB))
		}
		if cpu {
			row = append(row, cpuText(e.UserCPU)+" / "+cpuText(e.SysCPU))
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

// rawText is a JSON scalar as text: a string unquoted, a number as
// written; "" when absent or null.
func rawText(r json.RawMessage) (text string, number bool) {
	r = bytes.TrimSpace(r)
	if len(r) == 0 || string(r) == "null" {
		return "", false
	}
	var s string
	if json.Unmarshal(r, &s) == nil {
		return s, false
	}
	return string(r), true
}

// kibText shows a size in KiB (max_rss_kb) as MiB above 1 MiB.
func kibText(r json.RawMessage) string {
	s, number := rawText(r)
	if s == "" {
		return "-"
	}
	if !number {
		return s
	}
	kb, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s
	}
	if kb >= 1024 {
		return strconv.FormatFloat(kb/1024, 'f', 1, 64) + " MiB"
	}
	return strconv.FormatFloat(kb, 'f', -1, 64) + " KiB"
}

// cpuText shows CPU time: a number is seconds, a string (a Go duration) is
// shown as it is.
func cpuText(r json.RawMessage) string {
	s, number := rawText(r)
	if s == "" {
		return "-"
	}
	if !number {
		return s
	}
	sec, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s
	}
	return (time.Duration(sec * float64(time.Second))).Round(time.Millisecond).String()
}
