package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cronguard/cronguard/metadata"
	"github.com/cronguard/cronguard/packaging"
)

// packagerName is the binary that writes .debs (nfpm). cronguard execs it
// rather than linking nfpm: every cron run starts cronguard.
const packagerName = "cronguard-package"

// PackagerInstallPath is where cronguard's .deb installs the packager: a
// helper of cronguard's, not a command of its own (and `man
// cronguard-package` is the page of `cronguard package`).
const PackagerInstallPath = "/usr/lib/cronguard/" + packagerName

type packageOptions struct {
	g           *globalOptions
	version     string
	out         string
	scripts     bool
	installDir  string
	mailto      string
	maintainer  string
	description string
	copyright   string
	depends     []string
	packager    string
	leaseMap    []string
	systemd     bool
}

func newPackageCmd(g *globalOptions) *cobra.Command {
	o := &packageOptions{g: g}
	cmd := &cobra.Command{
		Use:   "package [--version V] [--out DIR] [--scripts] PATH...",
		Short: "Build one .deb per package from the METADATA blocks of scripts",
		Long: "package generates the cron.d files as gen does and builds, for each package,\n" +
			"a .deb installing /etc/cron.d/PACKAGE (and, with --scripts, the scripts in\n" +
			"--install-dir), depending on cronguard. The .debs are written by " + packagerName + ",\n" +
			"found next to cronguard or in PATH.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error { return o.run(args) },
	}
	f := cmd.Flags()
	f.StringVar(&o.version, "version", "", "package version (default 0.<UTC build time>, SOURCE_DATE_EPOCH honoured)")
	f.StringVar(&o.out, "out", ".", "directory for the .deb files")
	f.BoolVar(&o.scripts, "scripts", false, "also install the scripts, mode 0755, in --install-dir")
	f.StringVar(&o.installDir, "install-dir", metadata.DefaultInstallDir, "where the scripts are on the hosts")
	f.StringVar(&o.mailto, "mailto", metadata.DefaultMailto, `the files' MAILTO ("" for no mail)`)
	allowEmpty(f, "mailto")
	f.StringArrayVar(&o.leaseMap, "lease-map", nil, "NAME=RES:TOTAL: a lease NAME of switchman's <leases> blocks, as gen --lease-map (repeatable)")
	f.StringVar(&o.maintainer, "maintainer", "", "full name and email, as Debian writes them (default: $DEBFULLNAME and $DEBEMAIL)")
	f.StringVar(&o.description, "description", "", `synopsis of every package (default "cron jobs of PACKAGE, run by cronguard")`)
	f.StringVar(&o.copyright, "copyright", "", "file to install as /usr/share/doc/PACKAGE/copyright (default: a generated notice)")
	f.StringArrayVar(&o.depends, "depends", nil, "another dependency, besides cronguard (repeatable; e.g. python3)")
	f.BoolVar(&o.systemd, "systemd", false, "also install a systemd .timer and .service per entry in "+metadata.SystemdUnitDir+", enabled and started on install")
	f.StringVar(&o.packager, "packager", "", "the "+packagerName+" binary (default: next to cronguard, else "+PackagerInstallPath+", else in PATH)")
	return cmd
}

func (o *packageOptions) run(paths []string) error {
	files, timers, err := o.g.generate(paths, o.installDir, o.mailto, o.leaseMap, o.systemd)
	if err != nil {
		return err
	}
	date := packaging.BuildTime(o.g.getenv)
	version := o.version
	if version == "" {
		version = packaging.DefaultVersion(date)
	}
	maintainer, placeholder := packaging.DefaultMaintainer(o.maintainer, o.g.getenv)
	var copyright string
	if o.copyright != "" {
		data, err := os.ReadFile(o.copyright)
		if err != nil {
			return fmt.Errorf("--copyright: %w", err)
		}
		copyright = string(data)
	}
	tmp, err := os.MkdirTemp("", "cronguard-package-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	spec, err := o.spec(files, timers, tmp, version, maintainer, copyright, date)
	if err != nil {
		return err
	}
	packager, err := o.findPackager()
	if err != nil {
		return err
	}
	if placeholder {
		fmt.Fprintf(o.g.stderr, "cronguard: warning: no maintainer (--maintainer or DEBEMAIL): using %q\n", maintainer)
	}
	specPath := filepath.Join(tmp, "spec.json")
	data, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(specPath, data, 0o600); err != nil {
		return err
	}
	cmd := exec.Command(packager, "build", "--out", o.out, specPath)
	cmd.Stdout, cmd.Stderr = o.g.stdout, o.g.stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return &exitError{code: ExitRefused, err: fmt.Errorf("%s failed (%v): no package built", packager, ee.ProcessState)}
		}
		return fmt.Errorf("running %s: %w", packager, err)
	}
	return nil
}

// spec describes the packages; every problem of every package is
// reported at once, before anything is built.
func (o *packageOptions) spec(files []metadata.File, timers []metadata.Timer, tmp, version, maintainer, copyright string, date time.Time) (*packaging.Spec, error) {
	var problems []string
	if err := packaging.CheckVersion(version); err != nil {
		problems = append(problems, "--version: "+strings.TrimPrefix(err.Error(), packaging.ErrInvalid.Error()+": "))
	}
	// With --scripts a script may go to one package only: two packages
	// installing the same file cannot both be installed.
	owner := map[string]string{}
	spec := &packaging.Spec{}
	opts := metadata.Options{InstallDir: o.installDir}
	for _, f := range files {
		if err := packaging.CheckName(f.Package); err != nil {
			problems = append(problems, fmt.Sprintf("%s:%d: %s (a valid cron.d name, but not a Debian package name)",
				f.Entries[0].Source, f.Entries[0].Line, strings.TrimPrefix(err.Error(), packaging.ErrInvalid.Error()+": ")))
			continue
		}
		crond := filepath.Join(tmp, f.Package+".cron.d")
		if err := os.WriteFile(crond, f.Data, 0o644); err != nil {
			return nil, err
		}
		names := make([]string, len(f.Sources))
		for i, s := range f.Sources {
			names[i] = filepath.Base(s)
		}
		synopsis := o.description
		if synopsis == "" {
			synopsis = fmt.Sprintf("cron jobs of %s, run by cronguard", f.Package)
		}
		p := packaging.Package{
			Name: f.Package, Version: version, Arch: "all", Maintainer: maintainer,
			Synopsis: synopsis,
			Description: fmt.Sprintf("Installs /etc/cron.d/%s, generated by cronguard gen from the METADATA blocks of %s. "+
				"Each job runs under cronguard: only on the hosts of its group, never twice at once.", f.Package, strings.Join(names, ", ")),
			Depends:   append([]string{"cronguard"}, o.depends...),
			Changes:   "Built by cronguard package from " + strings.Join(names, ", ") + ".",
			Copyright: copyright,
			Date:      date,
			Files:     []packaging.File{{Src: crond, Dst: "/etc/cron.d/" + f.Package, Mode: 0o644, Conffile: true}},
		}
		if o.scripts {
			for _, src := range f.Sources {
				dst := opts.ScriptPath(&metadata.Entry{Script: filepath.Base(src)})
				if other, ok := owner[dst]; ok && other != f.Package {
					problems = append(problems, fmt.Sprintf("%s: with --scripts it would be installed by both %s and %s; keep its blocks in one package", src, other, f.Package))
					continue
				}
				owner[dst] = f.Package
				abs, err := filepath.Abs(src)
				if err != nil {
					return nil, err
				}
				p.Files = append(p.Files, packaging.File{Src: abs, Dst: dst, Mode: 0o755})
			}
		}
		if err := addUnits(&p, timers, tmp); err != nil {
			return nil, err
		}
		check := p
		check.Version = "0" // a bad --version is reported once, above
		if err := check.Validate(); err != nil {
			problems = append(problems, strings.Split(err.Error(), "\n")...)
			continue
		}
		spec.Packages = append(spec.Packages, p)
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		for _, p := range problems {
			fmt.Fprintln(o.g.stderr, p)
		}
		return nil, &exitError{code: ExitRefused, err: fmt.Errorf("%d problem(s): no package built", len(problems))}
	}
	return spec, nil
}

// findPackager looks for cronguard-package: --packager, then next to the
// running cronguard (a build tree: bin/), then where cronguard's .deb puts
// it, then PATH.
func (o *packageOptions) findPackager() (string, error) {
	if o.packager != "" {
		return o.packager, nil
	}
	p, err := findHelper(packagerName, PackagerInstallPath)
	if err != nil {
		return "", fmt.Errorf("%w, or pass --packager", err)
	}
	return p, nil
}

// CommandTree is cronguard's command tree, for cronguard-package to write
// the man pages from: the man page generator stays out of cronguard.
func CommandTree() *cobra.Command {
	return newRootCmd(io.Discard, io.Discard).Command
}
