package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cronguard/cronguard/config"
)

type explainOptions struct {
	g     *globalOptions
	group string
	host  string
}

func newExplainCmd(g *globalOptions) *cobra.Command {
	o := &explainOptions{g: g}
	cmd := &cobra.Command{
		Use:   "explain --group G [--host H]",
		Short: "Say why a host is or is not eligible for a group (exit 1 when not)",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context()) },
	}
	cmd.Flags().StringVarP(&o.group, "group", "g", "", "the group (required)")
	cmd.Flags().StringVar(&o.host, "host", "", "the host (default: this host's identity, as run would use)")
	_ = cmd.MarkFlagRequired("group")
	return cmd
}

func (o *explainOptions) run(ctx context.Context) error {
	a, data, _, err := o.g.dialFleet(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	fleet, err := config.ParseFleet(data)
	if err != nil {
		return fmt.Errorf("fleet config in %s: %w", a.st.root, err)
	}
	host := firstNonEmpty(o.host, a.st.hostname)
	return explain(o.g.stdout, fleet, o.group, host)
}

// explain prints the chain of groups that makes host eligible, or what the
// group holds instead.
func explain(w interface{ Write([]byte) (int, error) }, fleet *config.Fleet, group, host string) error {
	chain, ok, err := fleet.Explain(group, host)
	if err != nil {
		return err
	}
	if ok {
		fmt.Fprintf(w, "%s is eligible for %s: %s -> %s\n", host, group, strings.Join(chain, " -> "), host)
		return nil
	}
	hosts, _ := fleet.Hosts(group)
	members := fleet.Groups[group]
	fmt.Fprintf(w, "%s is NOT eligible for %s\n", host, group)
	fmt.Fprintf(w, "  %s lists: %s\n", group, orDash(strings.Join(members, ", ")))
	fmt.Fprintf(w, "  hosts after expanding subgroups: %s\n", orDash(strings.Join(hosts, ", ")))
	for _, h := range hosts {
		if strings.EqualFold(h, host) || strings.HasPrefix(h, host+".") || strings.HasPrefix(host, h+".") {
			fmt.Fprintf(w, "  note: %q is close to %q; host names must match exactly (see --hostname)\n", h, host)
		}
	}
	return exitCode(ExitRefused)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
