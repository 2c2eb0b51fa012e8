package systrap

import (
	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/platform"
	"github.com/litebox-go/litebox/platform/seccomp"
)

func init() {
	platform.Register(platform.Info{
		Name:       "systrap",
		Summary:    "fast",
		Needs:      "user namespaces, seccomp SECCOMP_RET_TRAP and ptrace of litebox's own children",
		Preference: 20,
		New:        func() platform.Platform { return New() },
		HostRules: []seccomp.Rule{
			{Name: "ptrace", Nr: unix.SYS_PTRACE, Why: "inject into the holder and hostcall threads (SEIZE, SETREGS, CONT...)"},
			{Name: "wait4", Nr: unix.SYS_WAIT4, Why: "stops of traced stub threads"},
			{Name: "kill", Nr: unix.SYS_KILL, Why: "killing stubs; is a stub still alive"},
			{Name: "process_vm_readv", Nr: unix.SYS_PROCESS_VM_READV, Why: "checked copies from guest memory"},
			{Name: "process_vm_writev", Nr: unix.SYS_PROCESS_VM_WRITEV, Why: "checked copies to guest memory"},
		},
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
