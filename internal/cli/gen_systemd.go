package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/cronguard/cronguard/metadata"
)

// generateSystemd renders the units of the entries and prints, on stderr,
// a note for every entry left to cron alone.
func (g *globalOptions) generateSystemd(files []metadata.File, entries []*metadata.Entry, opts metadata.Options) ([]metadata.File, []metadata.Timer, error) {
	timers, notes, err := metadata.GenerateSystemd(entries, opts)
	if err := g.metadataProblems(err); err != nil {
		return nil, nil, err
	}
	for _, n := range notes {
		fmt.Fprintln(g.stderr, "note: "+n)
	}
	return files, timers, nil
}

func units(timers []metadata.Timer) []metadata.Unit {
	var us []metadata.Unit
	for _, t := range timers {
		us = append(us, t.Timer, t.Service)
	}
	return us
}

// systemdUnits writes (or, with --check, compares) the units in the
// --systemd directory, and with --check the cron.d files too. done: the
// caller has nothing left to do.
func (o *genOptions) systemdUnits(timers []metadata.Timer, files []metadata.File, cronDir, suffix string) (bool, error) {
	dir := o.systemd
	us := units(timers)
	if o.check {
		differ := 0
		for _, u := range us {
			name := filepath.Join(dir, u.Name)
			old, err := os.ReadFile(name)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return true, err
			}
			if err == nil && bytes.Equal(old, u.Data) {
				continue
			}
			differ++
			fmt.Fprint(o.g.stdout, unifiedDiff(string(old), string(u.Data), name))
		}
		var cronErr error
		if cronDir != "" {
			cronErr = o.checkFiles(files, cronDir, suffix)
		}
		if differ > 0 {
			return true, &exitError{code: ExitRefused, err: fmt.Errorf("%d of %d systemd units in %s differ from the METADATA: run cronguard gen without --check", differ, len(us), dir)}
		}
		return true, cronErr
	}
	// Nothing is written when any file in the way is not gen's.
	n := 0
	for _, u := range us {
		name := filepath.Join(dir, u.Name)
		if old, err := os.ReadFile(name); err == nil && !bytes.HasPrefix(old, []byte(metadata.Header)) {
			fmt.Fprintf(o.g.stderr, "%s: exists and was not written by cronguard gen; move it away or name another lock\n", name)
			n++
		}
	}
	if n > 0 {
		return true, &exitError{code: ExitRefused, err: fmt.Errorf("%d file(s) not written by cronguard gen in the way: nothing written", n)}
	}
	if cronDir != "" {
		if err := refuseForeign(o.g, files, cronDir, suffix); err != nil {
			return true, err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return true, err
	}
	for _, u := range us {
		name := filepath.Join(dir, u.Name)
		changed, err := writeIfChanged(name, u.Data)
		if err != nil {
			return true, err
		}
		state := "unchanged"
		if changed {
			state = "wrote"
		}
		fmt.Fprintf(o.g.stdout, "%s %s\n", state, name)
	}
	return cronDir == "", nil
}
