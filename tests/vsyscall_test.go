package tests

import (
	"os"
	"strings"
	"testing"

	"github.com/litebox-go/litebox/tests/harness"
)

// vsyscallWant is the output of testdata/vsyscall.c on a host with the
// vsyscall page; litebox serves the page on every host and platform.
const vsyscallWant = `gettimeofday: 0, within a second of the syscall's: yes, usec < 1e6: yes, timezone written: yes
gettimeofday(NULL, NULL): 0
time: result == *tloc: yes, within a second of the syscall's: yes
time(NULL) within a second: yes
getcpu: 0, cpu < CPUs configured: yes, node is the syscall's: yes
getcpu(NULL, NULL, NULL): 0
registers other than rax unchanged: yes, rsp back where it was: yes, rax is the time: yes
listed in /proc/self/maps, executable: yes
call to vsyscall+0x10: killed by SIGSEGV
`

// hostHasVsyscall reports whether native processes have the vsyscall page
// (vsyscall=xonly or emulate; not with vsyscall=none).
func hostHasVsyscall(t *testing.T) bool {
	t.Helper()
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Contains(string(maps), "[vsyscall]")
}

// TestVsyscall calls the three vsyscall entries through function pointers,
// natively (where the host has the page) and under litebox.
func TestVsyscall(t *testing.T) {
	native := hostHasVsyscall(t)
	for _, v := range harness.Variants {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			bin := program(t, "vsyscall", v)
			want := harness.Result{Stdout: []byte(vsyscallWant)}
			if native {
				checkResult(t, runNative(t, "", nil, nil, bin), want, true)
			} else {
				t.Log("the host has no vsyscall page: litebox is checked against the expected output only")
			}
			got := runGuest(t, harness.Guest{Mounts: []string{workMount(v)}}, nil, "/work/vsyscall")
			checkExitedNormally(t, got)
			checkResult(t, got, want, true)
		})
	}
}
