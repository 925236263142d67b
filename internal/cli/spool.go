package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The spool keeps the run-record entries of runs that could not write
// them (ZooKeeper unreachable when the job ended, the run's session gone
// and no new one in time): one file per run,
// <state_dir>/unrecorded/<lock>/<run_id>.json, written atomically (temp
// file + rename). The next run of the lock on this host adds them to the
// record in its own compare-and-set write, then removes the files. On the
// normal path the only cost is one failed open of a missing directory
// (measured in BenchmarkSpoolPendingEmpty: a few microseconds).

// spoolMaxFold bounds how many spooled entries one run reads and adds.
const spoolMaxFold = 1000

// spooledEntry is one spool file. Root and Lock keep a spool shared by
// several prefixes (or by lock names that sanitize alike) from adding an
// entry to the wrong record.
type spooledEntry struct {
	Root  string   `json:"root"`
	Lock  string   `json:"lock"`
	Entry runEntry `json:"entry"`
}

type spool struct {
	dir        string // <state_dir>/unrecorded/<lock>; "" = no state dir
	root, lock string
}

func newSpool(stateDir, root, lockName string) spool {
	if stateDir == "" {
		return spool{root: root, lock: lockName}
	}
	return spool{dir: filepath.Join(stateDir, "unrecorded", spoolDirName(lockName)), root: root, lock: lockName}
}

// spoolDirName keeps a lock name (any basename with --no-lock) one safe
// path element.
func spoolDirName(lockName string) string {
	s := sanitizeMetricName(lockName)
	if s == "" || strings.HasPrefix(s, ".") {
		s = "_" + s
	}
	return s
}

// pendingSpool is what pending found: entries to add, the files that hold
// them (removed once the record is written), and files that cannot be
// read (their runs are lost: counted as unrecorded and removed).
type pendingSpool struct {
	entries []runEntry
	files   []string
	bad     []string
}

// pending reads the spooled entries of this root and lock. A missing
// directory is the normal case and costs one failed open.
func (s spool) pending() (pendingSpool, error) {
	var p pendingSpool
	if s.dir == "" {
		return p, nil
	}
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return p, nil
		}
		return p, fmt.Errorf("reading the spool: %w", err)
	}
	for _, de := range ents {
		name := de.Name()
		if strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".json") || !de.Type().IsRegular() {
			continue // temp files of a save in progress, strangers
		}
		if len(p.entries) >= spoolMaxFold {
			break
		}
		path := filepath.Join(s.dir, name)
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue // another run of the job added and removed it
		}
		var se spooledEntry
		if err != nil || json.Unmarshal(data, &se) != nil || se.Entry.RunID == "" {
			p.bad = append(p.bad, path)
			continue
		}
		if se.Root != s.root || se.Lock != s.lock {
			continue // another prefix's or lock's: its own runs will add it
		}
		p.entries = append(p.entries, se.Entry)
		p.files = append(p.files, path)
	}
	return p, nil
}

// save writes entry to the spool atomically and returns the file's path.
func (s spool) save(entry runEntry) (string, error) {
	if s.dir == "" {
		return "", errors.New("state_dir is not set")
	}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return "", err
	}
	data, err := json.Marshal(spooledEntry{Root: s.root, Lock: s.lock, Entry: entry})
	if err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(s.dir, ".tmp-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name()) // after a successful rename: nothing
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	path := filepath.Join(s.dir, spoolDirName(entry.RunID)+".json")
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", err
	}
	return path, nil
}

// remove deletes spool files; one already gone was removed by another run
// of the job that added it too (the record keeps it once: see runRecord.has).
func (s spool) remove(files []string) error {
	var first error
	for _, f := range files {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) && first == nil {
			first = err
		}
	}
	return first
}
