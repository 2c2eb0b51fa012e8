package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/litebox-go/litebox/platform"
	"github.com/litebox-go/litebox/sandbox/hostpolicy"
)

func newPolicyCmd(stdout io.Writer) *cobra.Command {
	policy := &cobra.Command{
		Use:   "policy",
		Short: "Show what litebox itself may do on the host",
	}
	var (
		netMode string
		publish bool
	)
	show := &cobra.Command{
		Use:   "show",
		Short: "Print the host syscalls litebox and its stub processes may make",
		Long: `Print the seccomp allowlists: the host syscalls the litebox process may make
once a sandbox runs (everything else fails with EPERM), and the few the stub
processes of each platform may make. The litebox process's list depends on
the sandbox's network: socket calls are in it only with --net egress or
published ports (-p), socket() for AF_INET and AF_INET6 only.`,
		Example: `  litebox policy show
  litebox policy show --net egress --publish`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			mode, err := parseNetMode(netMode)
			if err != nil {
				return usageError{err}
			}
			rules, err := hostpolicy.RulesFor(hostpolicy.Options{Egress: mode == "egress", Publish: publish})
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintf(w, "litebox process: %d host syscalls allowed\n", len(rules))
			for _, s := range rules {
				fmt.Fprintf(w, "  %s\t%d\t%s\n", s.Name, s.Nr, s.Why)
			}
			fmt.Fprintf(w, "  (everything else, and a rule's call whose arguments do not match: EPERM)\n")
			for _, p := range platform.Registered() {
				for _, f := range p.StubFilters {
					fmt.Fprintf(w, "\n%s: %d host syscalls allowed\n", f.Title, len(f.Filter.Rules))
					for _, s := range f.Filter.Rules {
						fmt.Fprintf(w, "  %s\t%d\t%s\n", s.Name, s.Nr, s.Why)
					}
					for _, n := range f.Notes {
						fmt.Fprintf(w, "  (%s)\n", n)
					}
				}
			}
			return w.Flush()
		},
	}
	show.Flags().StringVar(&netMode, "net", "none", "the sandbox's network mode: none or egress")
	show.Flags().BoolVar(&publish, "publish", false, "the sandbox publishes ports (-p)")
	policy.AddCommand(show)
	return policy
}
