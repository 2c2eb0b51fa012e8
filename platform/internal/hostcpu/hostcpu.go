// Package hostcpu reads the CPU time of one host thread of a stub, for the
// guest's per-thread CPU clocks (a process's CPU clock covers all its
// threads; Linux gives a thread's own clock only to its thread group, so
// litebox reads the scheduler's count from /proc instead).
package hostcpu

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// Thread returns how long host thread tid of process pid has run: the
// first field of /proc/PID/task/TID/schedstat (sum_exec_runtime, in ns).
func Thread(pid, tid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/schedstat", pid, tid))
	if err != nil {
		return 0, fmt.Errorf("hostcpu: %w", err)
	}
	return parse(b)
}

func parse(b []byte) (time.Duration, error) {
	f := bytes.Fields(b)
	if len(f) == 0 {
		return 0, fmt.Errorf("hostcpu: empty schedstat")
	}
	ns, err := strconv.ParseInt(string(f[0]), 10, 64)
	if err != nil || ns < 0 {
		return 0, fmt.Errorf("hostcpu: schedstat %q: bad run time", b)
	}
	return time.Duration(ns), nil
}
