package ptrace

import (
	"github.com/litebox-go/litebox/platform"
	"github.com/litebox-go/litebox/platform/internal/stubexec"
)

func init() {
	platform.Register(platform.Info{
		Name:       "ptrace",
		Summary:    "portable",
		Needs:      "user namespaces and ptrace of litebox's own children",
		Preference: 10,
		New:        func() platform.Platform { return New() },
		HostRules:  stubexec.HostRules,
		StubFilters: []platform.StubFilter{{
			Title:  "ptrace stubs (guest syscalls stop before seccomp and never reach the host)",
			Filter: &stubFilter,
			Notes: []string{"a guest call into the vsyscall page, which the host emulates as a syscall, traps: " +
				"SIGSYS to litebox, nothing runs"},
		}},
	})
}
