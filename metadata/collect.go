package metadata

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// binarySniff is how much of a file is searched for a NUL byte: a file
// with one is a binary (cronguard's own binary contains "<crontab>").
const binarySniff = 8000

// Collect reads the files and, recursively, the directories named by
// paths, and returns the entries of every METADATA block, ordered by file
// and line. Hidden files and directories and editor or packaging leftovers
// (*~, *.bak, *.orig, *.rej, *.swp, *.dpkg-*) are skipped inside
// directories; a file named explicitly is always read. Files without a
// block are ignored. The error, when not nil, is an Errors listing every
// problem of every file (unreadable paths included).
func Collect(paths []string) ([]*Entry, error) {
	var (
		all  []*Entry
		errs Errors
		seen = map[string]bool{}
	)
	read := func(name string) {
		key := filepath.Clean(name)
		if seen[key] {
			return
		}
		seen[key] = true
		data, err := os.ReadFile(name)
		if err != nil {
			errs = append(errs, &Error{File: name, Msg: describeIOError(err)})
			return
		}
		if !bytes.Contains(data, []byte(openTag)) && !bytes.Contains(data, []byte(closeTag)) {
			return // the common case, and the fast one
		}
		if bytes.IndexByte(data[:min(len(data), binarySniff)], 0) >= 0 {
			return
		}
		entries, perrs := Parse(name, data)
		if len(perrs) > 0 {
			errs = append(errs, perrs...)
			return
		}
		all = append(all, entries...)
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			errs = append(errs, &Error{File: p, Msg: describeIOError(err)})
			continue
		}
		if !st.IsDir() {
			read(p)
			continue
		}
		err = filepath.WalkDir(p, func(name string, d fs.DirEntry, err error) error {
			if err != nil {
				errs = append(errs, &Error{File: name, Msg: describeIOError(err)})
				return nil
			}
			if name != p && skipped(d.Name()) {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			switch {
			case d.Type().IsRegular():
				read(name)
			case d.Type()&fs.ModeSymlink != 0:
				// A link to a file counts; links to directories are not
				// followed (no cycles, no surprises).
				if st, err := os.Stat(name); err == nil && st.Mode().IsRegular() {
					read(name)
				}
			}
			return nil
		})
		if err != nil {
			errs = append(errs, &Error{File: p, Msg: describeIOError(err)})
		}
	}
	errs = append(errs, crossCheck(all)...)
	if len(errs) > 0 {
		errs.sort()
		return nil, errs
	}
	sortEntries(all)
	return all, nil
}

func describeIOError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// skipped tells which directory entries a walk leaves out.
func skipped(base string) bool {
	if strings.HasPrefix(base, ".") || strings.HasSuffix(base, "~") ||
		(strings.HasPrefix(base, "#") && strings.HasSuffix(base, "#")) {
		return true
	}
	for _, ext := range []string{".bak", ".orig", ".rej", ".swp"} {
		if strings.HasSuffix(base, ext) {
			return true
		}
	}
	return strings.Contains(base, ".dpkg-")
}

// crossCheck finds what no single file shows: two files with the same base
// name (both would run, and install, as the same SCRIPT), and one derived
// lock name shared by different scripts.
func crossCheck(entries []*Entry) Errors {
	var errs Errors
	sourceOf := map[string]string{} // script -> first source
	lockOf := map[string]*Entry{}   // derived lock -> first entry
	for _, e := range sortedCopy(entries) {
		if first, ok := sourceOf[e.Script]; ok && first != e.Source {
			errs = append(errs, &Error{File: e.Source, Line: e.Line,
				Msg: fmt.Sprintf("script name %q is also the name of %s: both would be installed and run as the same file", e.Script, first)})
			continue
		}
		sourceOf[e.Script] = e.Source
		if e.LockExplicit || e.Plain {
			continue
		}
		if first, ok := lockOf[e.Lock]; ok && first.Script != e.Script {
			errs = append(errs, &Error{File: e.Source, Line: e.Line,
				Msg: fmt.Sprintf("derived lock name %q is also that of %s:%d; name a lock in the block", e.Lock, first.Source, first.Line)})
			continue
		}
		lockOf[e.Lock] = e
	}
	return errs
}

func sortedCopy(entries []*Entry) []*Entry {
	c := append([]*Entry(nil), entries...)
	sortEntries(c)
	return c
}

func sortEntries(entries []*Entry) {
	sort.SliceStable(entries, func(i, j int) bool {
		a, b := entries[i], entries[j]
		if a.Source != b.Source {
			return a.Source < b.Source
		}
		return a.Line < b.Line
	})
}
