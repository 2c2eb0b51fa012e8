package ptrace

import (
	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/platform"
	"github.com/litebox-go/litebox/platform/seccomp"
)

func init() {
	platform.Register(platform.Info{
		Name:       "ptrace",
		Summary:    "portable",
		Needs:      "user namespaces and ptrace of litebox's own children",
		Preference: 10,
		New:        func() platform.Platform { return New() },
		HostRules: []seccomp.Rule{
			{Name: "ptrace", Nr: unix.SYS_PTRACE, Why: "trace stub threads (PTRACE_SYSEMU, SEIZE, GETREGS...)"},
			{Name: "wait4", Nr: unix.SYS_WAIT4, Why: "stub stops and deaths"},
			{Name: "kill", Nr: unix.SYS_KILL, Why: "killing stubs (sandbox end, execve)"},
			{Name: "process_vm_readv", Nr: unix.SYS_PROCESS_VM_READV, Why: "checked copies from guest memory"},
			{Name: "process_vm_writev", Nr: unix.SYS_PROCESS_VM_WRITEV, Why: "checked copies to guest memory"},
		},
		StubFilters: []platform.StubFilter{{
			Title:  "ptrace stubs (guest syscalls stop before seccomp and never reach the host)",
			Filter: &stubFilter,
			Notes: []string{"a guest call into the vsyscall page, which the host emulates as a syscall, traps: " +
				"SIGSYS to litebox, nothing runs"},
		}},
	})
}
