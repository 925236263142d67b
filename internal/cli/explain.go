package cli

import (
	"context"
	"fmt"
	"sort"
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
	id := a.st.identity.withSwitchman()
	if o.host != "" {
		id = identity{Name: o.host, Source: "--host"}
	}
	return explain(o.g.stdout, fleet, o.group, id)
}

// explain prints the host's identity and where it came from, then the
// chain of groups that makes it eligible, or what the group holds instead.
func explain(w interface{ Write([]byte) (int, error) }, fleet *config.Fleet, group string, id identity) error {
	host := id.Name
	chain, ok, err := fleet.Explain(group, host)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "identity: %s\n", id)
	if in := groupsOf(fleet, host); len(in) == 0 {
		fmt.Fprintf(w, "  %s is in no group of the fleet config: every job skips here\n", host)
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

// groupsOf lists the groups host is eligible for, sorted.
func groupsOf(fleet *config.Fleet, host string) []string {
	var in []string
	for g := range fleet.Groups {
		if ok, err := fleet.Eligible(g, host); err == nil && ok {
			in = append(in, g)
		}
	}
	sort.Strings(in)
	return in
}
