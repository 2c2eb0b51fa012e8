package systrap

import (
	"github.com/litebox-go/litebox/platform"
	"github.com/litebox-go/litebox/platform/internal/stubexec"
)

func init() {
	platform.Register(platform.Info{
		Name:       "systrap",
		Summary:    "fast",
		Needs:      "user namespaces, seccomp SECCOMP_RET_TRAP and ptrace of litebox's own children",
		Preference: 20,
		New:        func() platform.Platform { return New() },
		HostRules:  stubexec.HostRules,
		StubFilters: []platform.StubFilter{
			{
				Title:  "systrap stubs (only from the stub's code page; every other syscall traps to litebox)",
				Filter: stubFilter(),
			},
			{
				Title: "systrap guest threads (a second filter added before the first guest instruction; " +
					"anything else from the code page kills the stub)",
				Filter: guestFilter(),
			},
		},
	})
}
