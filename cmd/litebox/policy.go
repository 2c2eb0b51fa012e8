package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/litebox-go/litebox/platform/ptrace"
	"github.com/litebox-go/litebox/platform/systrap"
	"github.com/litebox-go/litebox/sandbox/hostpolicy"
)

func newPolicyCmd(stdout io.Writer) *cobra.Command {
	policy := &cobra.Command{
		Use:   "policy",
		Short: "Show what litebox itself may do on the host",
	}
	policy.AddCommand(&cobra.Command{
		Use:   "show",
		Short: "Print the host syscalls litebox and its stub processes may make",
		Long: `Print the seccomp allowlists: the host syscalls the litebox process may make
once a sandbox runs (everything else fails with EPERM), and the few the stub
processes that hold guest memory may make (everything else kills the stub).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintf(w, "litebox process: %d host syscalls allowed\n", len(hostpolicy.Allowed))
			for _, s := range hostpolicy.Allowed {
				fmt.Fprintf(w, "  %s\t%d\t%s\n", s.Name, s.Nr, s.Why)
			}
			fmt.Fprintf(w, "\nptrace stubs: %d host syscalls allowed (guest syscalls stop before seccomp and never reach the host)\n",
				len(ptrace.StubSyscalls))
			for _, s := range ptrace.StubSyscalls {
				fmt.Fprintf(w, "  %s\t%d\t%s\n", s.Name, s.Nr, s.Why)
			}
			fmt.Fprintf(w, "  (a guest call into the vsyscall page, which the host emulates as a syscall, traps: SIGSYS to litebox, nothing runs)\n")
			fmt.Fprintf(w, "\nsystrap stubs: %d host syscalls allowed, only from the stub's code page; every other syscall traps to litebox\n",
				len(systrap.StubSyscalls))
			for _, s := range systrap.StubSyscalls {
				fmt.Fprintf(w, "  %s\t%d\t%s\n", s.Name, s.Nr, s.Why)
			}
			fmt.Fprintf(w, "\nsystrap guest threads: %d of those left, by a second filter added before the first guest instruction; anything else from the code page kills the stub\n",
				len(systrap.GuestSyscalls))
			for _, s := range systrap.GuestSyscalls {
				fmt.Fprintf(w, "  %s\t%d\t%s\n", s.Name, s.Nr, s.Why)
			}
			return w.Flush()
		},
	})
	return policy
}
