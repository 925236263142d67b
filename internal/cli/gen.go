package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cronguard/cronguard/metadata"
)

type genOptions struct {
	g          *globalOptions
	out        string
	debian     string
	check      bool
	installDir string
	mailto     string
	leaseMap   []string
	systemd    string
}

func newGenCmd(g *globalOptions) *cobra.Command {
	o := &genOptions{g: g}
	cmd := &cobra.Command{
		Use:   "gen [--out DIR | --debian DIR] [--check] [--install-dir PATH] [--lease-map NAME=RES:TOTAL]... PATH...",
		Short: "Write one cron.d file per package from the METADATA blocks of scripts",
		Long: "gen reads the METADATA blocks of the scripts in PATH... (files, or directories\n" +
			"walked recursively) and writes one cron.d file per package: to DIR/PACKAGE\n" +
			"with --out, to DIR/PACKAGE.cron.d (for dh_installcron) with --debian, else to\n" +
			"stdout. Nothing is written when any block is invalid; every problem is printed\n" +
			"as file:line. --check writes nothing and exits 1 with a diff when the files on\n" +
			"disk differ from what gen would write.\n\n" +
			"switchman's form (a <switchman> block in a <crontab> entry) is read too: its\n" +
			"entries keep switchman's group and lock, entries without it stay plain cron\n" +
			"lines, and its <leases> names become --lease RES=COUNT:TOTAL through\n" +
			"--lease-map NAME=RES:TOTAL (e.g. --lease-map mem=FQDN_mem:MEMMB).",
		Args: cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error { return o.run(args) },
	}
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "", "write DIR/PACKAGE (e.g. /etc/cron.d)")
	f.StringVar(&o.debian, "debian", "", "write DIR/PACKAGE.cron.d, for dh_installcron (e.g. debian)")
	f.BoolVar(&o.check, "check", false, "write nothing; exit 1 and print a diff when the files on disk differ")
	f.StringVar(&o.installDir, "install-dir", metadata.DefaultInstallDir, "where the scripts are on the hosts: cron lines run INSTALL-DIR/SCRIPT-NAME")
	f.StringVar(&o.mailto, "mailto", metadata.DefaultMailto, `the files' MAILTO ("" for no mail); a block's mailto key wins`)
	allowEmpty(f, "mailto")
	f.StringArrayVar(&o.leaseMap, "lease-map", nil, "NAME=RES:TOTAL: a lease NAME of switchman's <leases> blocks is --lease RES=COUNT:TOTAL (repeatable; e.g. mem=FQDN_mem:MEMMB)")
	f.StringVar(&o.systemd, "systemd", "", "also write a .timer and a .service per entry to DIR (e.g. /etc/systemd/system); the cron lines then do nothing on systemd hosts")
	cmd.MarkFlagsMutuallyExclusive("out", "debian")
	return cmd
}

// generate collects and renders, printing every METADATA problem on
// stderr; it is shared by gen and package.
func (g *globalOptions) generate(paths []string, installDir, mailto string, leaseMap []string, systemd bool) ([]metadata.File, []metadata.Timer, error) {
	if err := metadata.CheckInstallDir(installDir); err != nil {
		return nil, nil, &exitError{code: ExitRefused, err: fmt.Errorf("--install-dir: %s", strings.TrimPrefix(err.Error(), metadata.ErrInvalid.Error()+": "))}
	}
	leases, err := metadata.ParseLeaseMap(leaseMap)
	if err != nil {
		return nil, nil, &exitError{code: ExitRefused, err: errors.New(strings.TrimPrefix(err.Error(), metadata.ErrInvalid.Error()+": "))}
	}
	entries, err := metadata.Collect(paths)
	if err == nil {
		err = metadata.MapLeases(entries, leases)
	}
	if err := g.metadataProblems(err); err != nil {
		return nil, nil, err
	}
	if len(entries) == 0 {
		return nil, nil, &exitError{code: ExitRefused, err: fmt.Errorf("no METADATA blocks found in %v", paths)}
	}
	opts := metadata.Options{InstallDir: installDir, Mailto: &mailto, Systemd: systemd}
	files, err := metadata.Generate(entries, opts)
	if err != nil || !systemd {
		return files, nil, err
	}
	return g.generateSystemd(files, entries, opts)
}

func (o *genOptions) run(paths []string) error {
	dir, suffix := o.out, ""
	if o.debian != "" {
		dir, suffix = o.debian, ".cron.d"
	}
	if o.check && dir == "" && o.systemd == "" {
		return fmt.Errorf("--check needs --out or --debian (or --systemd): the directory to compare with")
	}
	files, timers, err := o.g.generate(paths, o.installDir, o.mailto, o.leaseMap, o.systemd != "")
	if err != nil {
		return err
	}
	if o.systemd != "" {
		if done, err := o.systemdUnits(timers, files, dir, suffix); err != nil || done {
			return err
		}
	}
	if dir == "" {
		// One package: its file as it is. Several, one stream: a comment
		// line (valid in cron.d) says where each package's file begins.
		for i, f := range files {
			sep := ""
			if i > 0 {
				sep = "\n"
			}
			if len(files) > 1 {
				if _, err := fmt.Fprintf(o.g.stdout, "%s# ==> package %s (cron.d file %s) <==\n", sep, f.Package, f.Package); err != nil {
					return err
				}
			}
			if _, err := o.g.stdout.Write(f.Data); err != nil {
				return err
			}
		}
		return nil
	}
	if o.check {
		return o.checkFiles(files, dir, suffix)
	}
	if err := refuseForeign(o.g, files, dir, suffix); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range files {
		name := filepath.Join(dir, f.Package+suffix)
		changed, err := writeIfChanged(name, f.Data)
		if err != nil {
			return err
		}
		state := "unchanged"
		if changed {
			state = "wrote"
		}
		noun := "entries"
		if len(f.Entries) == 1 {
			noun = "entry"
		}
		fmt.Fprintf(o.g.stdout, "%s %s (%d %s)\n", state, name, len(f.Entries), noun)
	}
	return nil
}

func (o *genOptions) checkFiles(files []metadata.File, dir, suffix string) error {
	differ := 0
	for _, f := range files {
		name := filepath.Join(dir, f.Package+suffix)
		old, err := os.ReadFile(name)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if bytes.Equal(old, f.Data) && err == nil {
			continue
		}
		differ++
		fmt.Fprint(o.g.stdout, unifiedDiff(string(old), string(f.Data), name))
	}
	if differ > 0 {
		return &exitError{code: ExitRefused, err: fmt.Errorf("%d of %d cron.d files in %s differ from the METADATA: run cronguard gen without --check", differ, len(files), dir)}
	}
	return nil
}

// refuseForeign refuses, before anything is written, to overwrite a file
// gen did not write: with --out /etc/cron.d a package named like a system
// cron.d file (or a hand-written debian/x.cron.d) would otherwise be lost.
func refuseForeign(g *globalOptions, files []metadata.File, dir, suffix string) error {
	n := 0
	for _, f := range files {
		name := filepath.Join(dir, f.Package+suffix)
		old, err := os.ReadFile(name)
		if err == nil && !bytes.HasPrefix(old, []byte(metadata.Header)) {
			fmt.Fprintf(g.stderr, "%s: exists and was not written by cronguard gen; move it away or rename package %q\n", name, f.Package)
			n++
		}
	}
	if n > 0 {
		return &exitError{code: ExitRefused, err: fmt.Errorf("%d file(s) not written by cronguard gen in the way: nothing written", n)}
	}
	return nil
}

// writeIfChanged replaces name atomically (a temporary file in the same
// directory, renamed over it: cron never reads half a file) unless it
// already holds data. The temporary name starts with a dot, which cron
// ignores in /etc/cron.d.
func writeIfChanged(name string, data []byte) (bool, error) {
	if old, err := os.ReadFile(name); err == nil && bytes.Equal(old, data) {
		return false, nil
	}
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp-*")
	if err != nil {
		return false, err
	}
	defer os.Remove(f.Name()) // after a successful rename, a no-op
	if _, err := f.Write(data); err != nil {
		f.Close()
		return false, err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return false, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return false, err
	}
	if err := f.Close(); err != nil {
		return false, err
	}
	return true, os.Rename(f.Name(), name)
}

// metadataProblems prints each METADATA problem of err on stderr, one
// file:line a line, and returns the run's refusal; other errors pass.
func (g *globalOptions) metadataProblems(err error) error {
	var errs metadata.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			fmt.Fprintln(g.stderr, e.Error())
		}
		return &exitError{code: ExitRefused, err: fmt.Errorf("%d problem(s) in METADATA: nothing written", len(errs))}
	}
	return err
}
