package sandbox

import (
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// serveCPU adds up the CPU time litebox's own threads spend serving the
// sandbox's guest threads, for --cpu-time: on Linux the kernel's work for
// a process (its system time) counts against RLIMIT_CPU, and here that
// work is litebox's. Every guest thread is served by one goroutine, which
// begin locks to its OS thread for this count's sake (the kernel and the
// platforms need no such lock, but for ptrace's own), so that thread's CPU
// clock, from the moment it starts serving until it stops, is litebox's
// work for the guest thread: its
// syscalls, faults and signal deliveries, execve and fork, and the
// platform's waits for the stub. Work done elsewhere on the guest's behalf
// (timer and output goroutines, the garbage collector, the holder's
// tracer) is not counted; none of it grows faster than the counted work.
type serveCPU struct {
	mu   sync.Mutex
	done time.Duration         // threads that stopped serving
	live map[int]time.Duration // host tid -> its CPU clock when it started
}

// begin locks the calling goroutine to its OS thread and starts counting
// that thread; end stops and unlocks.
func (s *serveCPU) begin() (end func()) {
	runtime.LockOSThread()
	tid := unix.Gettid()
	start, err := threadCPU(0)
	if err != nil {
		return runtime.UnlockOSThread
	}
	s.mu.Lock()
	if s.live == nil {
		s.live = map[int]time.Duration{}
	}
	s.live[tid] = start
	s.mu.Unlock()
	return func() {
		now, err := threadCPU(0)
		s.mu.Lock()
		delete(s.live, tid)
		if err == nil && now > start {
			s.done += now - start
		}
		s.mu.Unlock()
		runtime.UnlockOSThread()
	}
}

// total is the serving CPU time so far.
func (s *serveCPU) total() time.Duration {
	s.mu.Lock()
	total := s.done
	live := make(map[int]time.Duration, len(s.live))
	for tid, start := range s.live {
		live[tid] = start
	}
	s.mu.Unlock()
	for tid, start := range live {
		if now, err := threadCPU(tid); err == nil && now > start {
			total += now - start
		}
	}
	return total
}

// threadCPU reads the CPU clock of thread tid of this process (0: the
// calling thread).
func threadCPU(tid int) (time.Duration, error) {
	clock := int32(unix.CLOCK_THREAD_CPUTIME_ID)
	if tid != 0 {
		// MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED): another thread of
		// this thread group, by its tid.
		clock = int32(^tid<<3 | cpuClockPerThread | cpuClockSched)
	}
	var ts unix.Timespec
	if err := unix.ClockGettime(clock, &ts); err != nil {
		return 0, err
	}
	return time.Duration(ts.Nano()), nil
}

// Bits of a CPU clock id (include/linux/posix-timers_types.h).
const (
	cpuClockSched     = 2
	cpuClockPerThread = 4
)
