package main

import (
	"bytes"
	"debug/elf"
	_ "embed"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/cronguard/cronguard/internal/cli"
	"github.com/cronguard/cronguard/packaging"
	"github.com/cronguard/cronguard/packaging/nfpmdeb"
)

//go:embed config.json.example
var exampleConfig []byte

type selfOptions struct {
	binary, packager, pinger, shim, version, out, arch, maintainer, readme string

	stdout, stderr io.Writer
	getenv         func(string) string
}

func newSelfCmd(stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	o := &selfOptions{stdout: stdout, stderr: stderr, getenv: getenv}
	cmd := &cobra.Command{
		Use:   "self --binary PATH [flags]",
		Short: "Build cronguard's own .deb: cronguard, this packager, man pages, an example config",
		Args:  cobra.NoArgs,
		RunE:  func(*cobra.Command, []string) error { return o.run() },
	}
	f := cmd.Flags()
	f.StringVar(&o.binary, "binary", "", "the cronguard binary to package (stripped: lintian refuses debug symbols)")
	f.StringVar(&o.packager, "packager", "", "the cronguard-package binary to ship with it (default: this one)")
	f.StringVar(&o.pinger, "pinger", "", "the cronguard-ping binary to ship with it (required: go build ./cmd/cronguard-ping)")
	f.StringVar(&o.shim, "shim", "", "the C shim to ship with it (required: make build writes bin/cronguard-shim)")
	f.StringVar(&o.version, "version", cli.Version, "version (git describe form is turned into a Debian version)")
	f.StringVar(&o.out, "out", "dist", "directory for the .deb")
	f.StringVar(&o.arch, "arch", "", "Debian architecture (default: the binary's)")
	f.StringVar(&o.maintainer, "maintainer", "", `"Name <email>" (default: $DEBFULLNAME <$DEBEMAIL>)`)
	f.StringVar(&o.readme, "readme", "README.md", "cronguard's README, installed in /usr/share/doc/cronguard")
	_ = cmd.MarkFlagRequired("binary")
	_ = cmd.MarkFlagRequired("pinger")
	_ = cmd.MarkFlagRequired("shim")
	return cmd
}

func (o *selfOptions) run() error {
	if o.packager == "" {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		o.packager = exe
	}
	arch, needsLibc, err := elfInfo(o.binary)
	if err != nil {
		return err
	}
	// The C shim runs every job: it must be built for the same machine.
	shimArch, _, err := elfInfo(o.shim)
	if err != nil {
		return fmt.Errorf("--shim: %w", err)
	}
	if shimArch != arch {
		return fmt.Errorf("--shim %s is built for %s, --binary %s for %s", o.shim, shimArch, o.binary, arch)
	}
	if o.arch != "" {
		arch = o.arch
	}
	maintainer, placeholder := packaging.DefaultMaintainer(o.maintainer, o.getenv)
	if placeholder {
		fmt.Fprintf(o.stderr, "cronguard-package: warning: no maintainer (--maintainer or DEBEMAIL): using %q\n", maintainer)
	}
	date := packaging.BuildTime(o.getenv)
	version := packaging.DebianVersion(o.version)
	tmp, err := os.MkdirTemp("", "cronguard-self-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	pages, err := manPages(tmp, version, date)
	if err != nil {
		return err
	}
	example := filepath.Join(tmp, "config.json.example")
	if err := os.WriteFile(example, exampleConfig, 0o644); err != nil {
		return err
	}
	readme, err := os.ReadFile(o.readme)
	if err != nil {
		return fmt.Errorf("--readme: %w", err)
	}
	readmeGz := filepath.Join(tmp, "README.md.gz")
	if err := os.WriteFile(readmeGz, packaging.Gzip(readme), 0o644); err != nil {
		return err
	}
	logrotate := filepath.Join(tmp, "logrotate")
	if err := os.WriteFile(logrotate, []byte(logrotateConf), 0o644); err != nil {
		return err
	}
	comps, err := completions(cli.CommandTree(), tmp)
	if err != nil {
		return err
	}
	p := &packaging.Package{
		Name: "cronguard", Version: version, Arch: arch, Maintainer: maintainer,
		Synopsis: "fleet-wide guard for cron jobs, backed by ZooKeeper",
		Description: "cronguard makes plain cron safe across a fleet: each cron line runs its job " +
			"only on the hosts of its group, under a fleet-wide lock in ZooKeeper, and stops the " +
			"job's whole process tree when the host loses the right to run it. It is a drop-in " +
			"successor of switchman.\n\n" +
			"cronguard gen and cronguard package turn the METADATA headers of scripts into " +
			"cron.d files and Debian packages.",
		Recommends: []string{"cron | cron-daemon"},
		Changes:    "cronguard " + version + ".",
		Copyright:  copyrightText(date),
		Date:       date,
		Files: []packaging.File{
			{Src: o.binary, Dst: "/usr/bin/cronguard", Mode: 0o755},
			// A helper, not a user command: `cronguard package` runs it.
			{Src: o.packager, Dst: cli.PackagerInstallPath, Mode: 0o755},
			// Sends the pings, so that cronguard links no net/http.
			{Src: o.pinger, Dst: cli.PingerInstallPath, Mode: 0o755},
			// The job's shim, in C: a Go one costs every run a second
			// Go start-up (issue 16).
			{Src: o.shim, Dst: cli.ShimInstallPath, Mode: 0o755},
			{Src: example, Dst: "/etc/cronguard/config.json.example", Mode: 0o644, Conffile: true},
			{Src: example, Dst: docExample, Mode: 0o644},
			// Policy 12.3: documentation in /usr/share/doc compressed, as dh_compress does.
			{Src: readmeGz, Dst: docReadme, Mode: 0o644},
			{Src: logrotate, Dst: logrotatePath, Mode: 0o644, Conffile: true},
		},
	}
	for src, dst := range comps {
		p.Files = append(p.Files, packaging.File{Src: src, Dst: dst, Mode: 0o644})
	}
	overrides := lintianOverrides(!needsLibc)
	overridesSrc := filepath.Join(tmp, "lintian-overrides")
	if err := os.WriteFile(overridesSrc, []byte(overrides), 0o644); err != nil {
		return err
	}
	p.Files = append(p.Files, packaging.File{Src: overridesSrc, Dst: "/usr/share/lintian/overrides/cronguard", Mode: 0o644})
	// config edit falls back to sensible-editor (Debian's editor choice).
	p.Depends = []string{"sensible-utils"}
	if needsLibc {
		p.Depends = append(p.Depends, "libc6")
	}
	for _, page := range pages {
		// cronguard-run.1.gz goes to man1, cronguard-metadata.5.gz to man5.
		section := strings.TrimSuffix(filepath.Ext(strings.TrimSuffix(page, ".gz")), "")[1:]
		p.Files = append(p.Files, packaging.File{Src: page, Dst: "/usr/share/man/man" + section + "/" + filepath.Base(page), Mode: 0o644})
	}
	path, err := nfpmdeb.Build(p, o.out)
	if err != nil {
		return err
	}
	fmt.Fprintln(o.stdout, path)
	return nil
}

// lintianOverrides is the package's lintian overrides, each with the reason
// in the comment before it (lintian shows it with --show-overrides).
func lintianOverrides(static bool) string {
	var b strings.Builder
	bins := []string{"usr/bin/cronguard", strings.TrimPrefix(cli.PackagerInstallPath, "/"), strings.TrimPrefix(cli.PingerInstallPath, "/")}
	shim := strings.TrimPrefix(cli.ShimInstallPath, "/")
	if static {
		b.WriteString("# Static Go binaries by design (make build: CGO_ENABLED=0): every cron run\n" +
			"# would pay for ld.so and libc start-up, about 3 ms (BENCHMARKS.md).\n")
		for _, bin := range bins {
			b.WriteString("cronguard: statically-linked-binary [" + bin + "]\n")
		}
	}
	b.WriteString("# The C shim, static by design (make build: -static): it starts every job,\n" +
		"# and ld.so and libc start-up would cost each run more than the shim itself.\n" +
		"cronguard: statically-linked-binary [" + shim + "]\n")
	bins = append(bins, shim)
	b.WriteString("# Helpers that cronguard execs (`cronguard package`, pings, the job's\n" +
		"# shim), not user commands: they stay off PATH, in the package's private\n" +
		"# directory, where cronguard looks for them.\n")
	for _, bin := range bins[1:] {
		b.WriteString("cronguard: executable-in-usr-lib [" + bin + "]\n")
	}
	return b.String()
}

func copyrightText(date time.Time) string {
	return fmt.Sprintf("cronguard: guarded cron runs on a fleet, a successor of switchman.\n\nCopyright %d the cronguard authors\n", date.Year())
}

// elfInfo returns the Debian architecture of a binary and whether it is
// linked against libc (then the package must depend on libc6).
func elfInfo(path string) (arch string, dynamic bool, err error) {
	f, err := elf.Open(path)
	if err != nil {
		return "", false, fmt.Errorf("--binary: %w", err)
	}
	defer f.Close()
	switch f.Machine {
	case elf.EM_X86_64:
		arch = "amd64"
	case elf.EM_AARCH64:
		arch = "arm64"
	case elf.EM_386:
		arch = "i386"
	case elf.EM_ARM:
		arch = "armhf"
	case elf.EM_RISCV:
		arch = "riscv64"
	case elf.EM_PPC64:
		arch = "ppc64el"
	case elf.EM_S390:
		arch = "s390x"
	default:
		arch = runtime.GOARCH
	}
	libs, _ := f.ImportedLibraries()
	return arch, len(libs) > 0, nil
}

type manOptions struct{ getenv func(string) string }

func newManCmd(getenv func(string) string) *cobra.Command {
	o := &manOptions{getenv: getenv}
	return &cobra.Command{
		Use:   "man DIR",
		Short: "Write cronguard's man pages (gzipped) into DIR",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			_, err := manPages(args[0], packaging.DebianVersion(cli.Version), packaging.BuildTime(o.getenv))
			return err
		},
	}
}

// manPages writes a gzipped page per command of cronguard into dir (cobra/doc's
// options and the hand-written EXIT STATUS, ENVIRONMENT and FILES) and
// cronguard-metadata(5), and returns their paths, sorted. cobra/doc lives
// here, not in cronguard.
func manPages(dir, version string, date time.Time) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	root := cli.CommandTree()
	disableAutoGenTag(root)
	header := &doc.GenManHeader{Section: "1", Date: &date, Source: "cronguard " + version, Manual: "cronguard manual"}
	var pages []string
	write := func(name string, data []byte) error {
		page := filepath.Join(dir, name+".gz")
		pages = append(pages, page)
		return os.WriteFile(page, packaging.Gzip(data), 0o644)
	}
	var walk func(c *cobra.Command) error
	walk = func(c *cobra.Command) error {
		if !c.IsAvailableCommand() || c.IsAdditionalHelpTopicCommand() {
			return nil
		}
		var buf bytes.Buffer
		h := *header // GenMan fills in the title
		if err := doc.GenMan(c, &h, &buf); err != nil {
			return err
		}
		page, err := finishPage(buf.Bytes(), c.CommandPath())
		if err != nil {
			return err
		}
		if err := write(strings.ReplaceAll(c.CommandPath(), " ", "-")+".1", page); err != nil {
			return err
		}
		for _, sub := range c.Commands() {
			if err := walk(sub); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(root); err != nil {
		return nil, err
	}
	meta, err := metadataPage(version, date)
	if err != nil {
		return nil, err
	}
	if err := write("cronguard-metadata.5", meta); err != nil {
		return nil, err
	}
	sort.Strings(pages)
	return pages, nil
}

// disableAutoGenTag drops cobra's "Auto generated by spf13/cobra" line,
// which would carry the build date into every page.
func disableAutoGenTag(c *cobra.Command) {
	c.DisableAutoGenTag = true
	for _, sub := range c.Commands() {
		disableAutoGenTag(sub)
	}
}
