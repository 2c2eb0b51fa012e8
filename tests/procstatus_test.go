package tests

// /proc/<pid>/status (testdata/procstatus.c): the fields programs read,
// natively and in the sandbox, as the default user and under --user.

import (
	"testing"

	"github.com/litebox-go/litebox/tests/harness"
)

var procStatusCases = []modeCase{
	{name: "status", prog: "procstatus", want: procStatusWant},
}

func TestProcStatus(t *testing.T) { runModeCases(t, procStatusCases) }

// TestProcStatusUsers: Uid, Gid and Groups follow --user.
func TestProcStatusUsers(t *testing.T) {
	program(t, "procstatus", staticVariant)
	for _, user := range []string{"0", "1234:1234"} {
		t.Run(user, func(t *testing.T) {
			g := harness.Guest{Mounts: []string{workMount(staticVariant)}, Flags: []string{"--user", user}}
			got := runGuest(t, g, nil, "/work/procstatus")
			checkExitedNormally(t, got)
			checkResult(t, got, harness.Result{Stdout: []byte(procStatusWant)}, true)
		})
	}
}

const procStatusWant = `Name: procstatus
Umask: 0027
State: R (running)
TracerPid: 0
Threads: 3
SigPnd: 0000000000000004
ShdPnd: 0000000000000001
SigBlk: 0000000000000005
SigIgn: 0000000000001800
SigCgt: 0000000100004200
CapInh: 0000000000000000
CapAmb: 0000000000000000
NoNewPrivs: 1
Seccomp: 0
Ngid: 0
Tgid, Pid, NStgid are getpid(): 1 1 1
PPid is getppid(): 1
Uid is getresuid() and fsuid: 1
Gid is getresgid() and fsgid: 1
Groups are getgroups(): 1
Cpus_allowed_list counts sched_getaffinity's CPUs: 1
VmPeak, VmSize, VmRSS present: 1 1 1
FDSize holds fd 100: 1
SigQ has a limit: 1
`
