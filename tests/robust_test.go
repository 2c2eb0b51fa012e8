package tests

// Robust futex lists (testdata/robust.c): pthread robust mutexes whose
// owner died (thread exit, process exit, SIGKILL, execve), private and in
// MAP_SHARED memory, give the next locker EOWNERDEAD as natively.

import "testing"

var robustCases = []modeCase{
	{name: "robust", prog: "robust", want: robustWant},
}

func TestRobustFutex(t *testing.T) { runModeCases(t, robustCases) }

const robustWant = `thread exited: lock EOWNERDEAD, consistent 0, lock again 0
thread exited while we waited: lock EOWNERDEAD, consistent 0, lock again 0
unlocked inconsistent: lock EOWNERDEAD, then ENOTRECOVERABLE
process exited while we waited: lock EOWNERDEAD, consistent 0, lock again 0
process killed while we waited: lock EOWNERDEAD, consistent 0, lock again 0
process exec'd while we waited: lock EOWNERDEAD, consistent 0, lock again 0
process exited: lock EOWNERDEAD, consistent 0, lock again 0
get_robust_list(0): 0, head set 1, len 24
get_robust_list(no such tid): ESRCH
get_robust_list(bad pointer): EFAULT
set_robust_list(bad len): EINVAL
bad list at exit: exit 3
cyclic list at exit: exit 4
`
