package cli

import (
	"os/exec"

	"github.com/spf13/cobra"
)

// newManCmd writes the man pages. The generator (cobra/doc) lives in
// cronguard-package, like nfpm, so that it costs cron runs nothing.
func newManCmd(g *globalOptions) *cobra.Command {
	o := &packageOptions{g: g}
	cmd := &cobra.Command{
		Use:   "man DIR",
		Short: "Write cronguard's man pages into DIR (runs " + packagerName + ")",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			packager, err := o.findPackager()
			if err != nil {
				return err
			}
			c := exec.Command(packager, "man", args[0])
			c.Stdout, c.Stderr = g.stdout, g.stderr
			return c.Run()
		},
	}
	cmd.Flags().StringVar(&o.packager, "packager", "", "the "+packagerName+" binary")
	return cmd
}
