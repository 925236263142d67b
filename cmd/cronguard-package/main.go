// Command cronguard-package builds Debian packages with nfpm. It is a
// binary of its own so that cronguard, which every cron run starts, never
// links nfpm (about 1.3 ms of package init and 6 MB per run):
// `cronguard package` execs it, and `make deb` runs it to package cronguard
// itself.
//
//	cronguard-package build [--out DIR] SPEC.json|-   the packages of a spec
//	cronguard-package self --binary PATH [flags]      cronguard's own .deb
//	cronguard-package man DIR                         cronguard's man pages
package main

import (
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/cronguard/cronguard/packaging"
	"github.com/cronguard/cronguard/packaging/nfpmdeb"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

func run(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	root := newRootCmd(stdout, stderr, getenv)
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		fmt.Fprintf(stderr, "cronguard-package: %v\n", err)
		return 1
	}
	return 0
}

func newRootCmd(stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	root := &cobra.Command{
		Use:           "cronguard-package",
		Short:         "Build Debian packages for cronguard (run by `cronguard package` and `make deb`)",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(newBuildCmd(stdout), newSelfCmd(stdout, stderr, getenv), newManCmd(getenv))
	return root
}

type buildOptions struct {
	out    string
	stdout io.Writer
}

func newBuildCmd(stdout io.Writer) *cobra.Command {
	o := &buildOptions{stdout: stdout}
	cmd := &cobra.Command{
		Use:   "build [--out DIR] SPEC.json|-",
		Short: "Build the packages a JSON spec describes; print the path of each .deb",
		Args:  cobra.ExactArgs(1),
		RunE:  func(_ *cobra.Command, args []string) error { return o.run(args[0]) },
	}
	cmd.Flags().StringVar(&o.out, "out", ".", "directory for the .deb files")
	return cmd
}

func (o *buildOptions) run(specPath string) error {
	spec, err := packaging.ReadSpec(specPath)
	if err != nil {
		return err
	}
	// Every problem of every package first; nothing is built when any.
	var errs []error
	for i := range spec.Packages {
		errs = append(errs, spec.Packages[i].Validate())
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for i := range spec.Packages {
		path, err := nfpmdeb.Build(&spec.Packages[i], o.out)
		if err != nil {
			return err
		}
		fmt.Fprintln(o.stdout, path)
	}
	return nil
}
