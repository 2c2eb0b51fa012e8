package linux

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
)

// timeNow is the kernel's wall clock.
var timeNow = time.Now

func sysTime(t *kernel.Task, a args) (uint64, error) {
	now := uint64(t.Proc.Kernel().Clock().Realtime() / 1e9)
	if a[0] != 0 {
		if err := t.WriteU64(a[0], now); err != nil {
			return 0, err
		}
	}
	return now, nil
}

func sysNanosleep(t *kernel.Task, a args) (uint64, error) {
	d, err := readTimespec(t, a[0])
	if err != nil {
		return 0, err
	}
	return 0, sleep(t, d, a[1])
}

func encodeTimespec(d time.Duration) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(d/time.Second))
	return binary.LittleEndian.AppendUint64(b, uint64(d%time.Second))
}

// readTimespec copies a struct timespec and validates it as a duration.
func readTimespec(t *kernel.Task, addr uint64) (time.Duration, error) {
	b, err := t.CopyIn(addr, 16)
	if err != nil {
		return 0, err
	}
	sec, nsec := int64(binary.LittleEndian.Uint64(b)), int64(binary.LittleEndian.Uint64(b[8:]))
	if sec < 0 || nsec < 0 || nsec >= 1e9 {
		return 0, unix.EINVAL
	}
	if sec > int64(1<<62)/1e9 {
		sec = int64(1<<62) / 1e9
	}
	return time.Duration(sec)*time.Second + time.Duration(nsec), nil
}

// clockNow reads a guest clock as a duration since its epoch.
func clockNow(t *kernel.Task, clock int32) (time.Duration, error) {
	switch clock {
	// The clocks the vDSO computes too (kernel/vdso: one set of parameters
	// for both paths, so they agree).
	case unix.CLOCK_REALTIME, unix.CLOCK_REALTIME_COARSE, unix.CLOCK_TAI:
		return time.Duration(t.Proc.Kernel().Clock().Realtime()), nil
	case unix.CLOCK_MONOTONIC, unix.CLOCK_MONOTONIC_COARSE, unix.CLOCK_MONOTONIC_RAW, unix.CLOCK_BOOTTIME:
		// Monotonic time starts at the sandbox's boot: the guest learns
		// nothing about the host's uptime.
		return t.Proc.Kernel().Clock().Monotonic(), nil
	case unix.CLOCK_PROCESS_CPUTIME_ID:
		return cpuClock(t, 0, false)
	case unix.CLOCK_THREAD_CPUTIME_ID:
		return cpuClock(t, 0, true)
	}
	if clock < 0 {
		// A clock of clock_getcpuclockid or pthread_getcpuclockid: the
		// pid or tid is ~(clock >> 3), bit 2 says a thread, bits 0-1 the
		// kind (PROF, VIRT, SCHED: all the same here, see kernel.Rusage).
		if clock&3 == 3 {
			return 0, unix.EINVAL
		}
		return cpuClock(t, int(^(clock >> 3)), clock&4 != 0)
	}
	return 0, unix.EINVAL
}

// cpuClock reads the CPU clock of the caller's process or of one of its
// threads (id 0: the caller's), as Linux's posix-cpu-timers do: a thread
// clock names a thread of the caller's process. A process clock of another
// process of the sandbox is not supported (logged).
func cpuClock(t *kernel.Task, id int, thread bool) (time.Duration, error) {
	if t.CPUTime == nil {
		return 0, unix.EINVAL // not running on a platform (unit tests)
	}
	if !thread {
		if id != 0 && id != t.Proc.PID {
			if _, ok := t.Proc.Kernel().Process(id); ok {
				t.Proc.Kernel().Unsupported("CPU clock of another process", unix.SYS_CLOCK_GETTIME, t.Proc.PID)
			}
			return 0, unix.EINVAL
		}
		return t.SelfUsage().CPU, nil
	}
	target := t
	if id != 0 && id != t.TID {
		o, err := t.FindTask(id)
		if err != nil || o.Proc != t.Proc {
			return 0, unix.EINVAL
		}
		target = o
	}
	if d, ok := target.ThreadCPU(); ok {
		return d, nil
	}
	// The platform cannot tell threads apart: the process's time.
	return t.SelfUsage().CPU, nil
}

// sysClockSettime: the guest may not set the host's clocks, nor have its
// own: Linux's answer to an unprivileged caller (EPERM for the settable
// clocks, EINVAL for the others or a bad time).
func sysClockSettime(t *kernel.Task, a args) (uint64, error) {
	clock := int32(a[0])
	// Of the CPU clocks only those named by pid or tid have a setter in
	// Linux (which always refuses); CLOCK_PROCESS/THREAD_CPUTIME_ID have
	// none, like the other clocks that cannot be set.
	cpu := clock < 0 && clock&3 != 3
	if clock != unix.CLOCK_REALTIME && !cpu {
		return 0, unix.EINVAL
	}
	b, err := t.CopyIn(a[1], 16)
	if err != nil {
		return 0, err
	}
	if cpu {
		// CPU clocks are never settable: EPERM once the clock exists.
		if _, err := clockNow(t, clock); err != nil {
			return 0, err
		}
		return 0, unix.EPERM
	}
	sec, nsec := int64(binary.LittleEndian.Uint64(b)), int64(binary.LittleEndian.Uint64(b[8:]))
	if sec < 0 || nsec < 0 || nsec >= 1e9 {
		return 0, unix.EINVAL
	}
	return 0, unix.EPERM
}

// sysSettimeofday is refused like clock_settime(CLOCK_REALTIME), after
// the same checks of its arguments.
func sysSettimeofday(t *kernel.Task, a args) (uint64, error) {
	if a[0] != 0 {
		b, err := t.CopyIn(a[0], 16)
		if err != nil {
			return 0, err
		}
		sec, usec := int64(binary.LittleEndian.Uint64(b)), int64(binary.LittleEndian.Uint64(b[8:]))
		if sec < 0 || usec < 0 || usec >= 1e6 {
			return 0, unix.EINVAL
		}
	}
	if a[1] != 0 {
		if _, err := t.CopyIn(a[1], 8); err != nil {
			return 0, err
		}
	}
	return 0, unix.EPERM
}

func sysClockGettime(t *kernel.Task, a args) (uint64, error) {
	d, err := clockNow(t, int32(a[0]))
	if err != nil {
		return 0, err
	}
	return 0, t.CopyOut(a[1], encodeTimespec(d))
}

func sysClockGetres(t *kernel.Task, a args) (uint64, error) {
	if _, err := clockNow(t, int32(a[0])); err != nil {
		return 0, err
	}
	res := time.Nanosecond
	switch c := int32(a[0]); {
	case c == unix.CLOCK_REALTIME_COARSE || c == unix.CLOCK_MONOTONIC_COARSE:
		res = 4 * time.Millisecond
	case c < 0 && c&3 != 2:
		res = 4 * time.Millisecond // the tick-based PROF and VIRT CPU clocks (HZ 250)
	}
	if a[1] == 0 {
		return 0, nil
	}
	return 0, t.CopyOut(a[1], encodeTimespec(res))
}

func sysGettimeofday(t *kernel.Task, a args) (uint64, error) {
	if a[0] != 0 {
		now := t.Proc.Kernel().Clock().Realtime()
		b := binary.LittleEndian.AppendUint64(nil, uint64(now/1e9))
		b = binary.LittleEndian.AppendUint64(b, uint64(now%1e9/1000))
		if err := t.CopyOut(a[0], b); err != nil {
			return 0, err
		}
	}
	if a[1] != 0 {
		if err := t.CopyOut(a[1], make([]byte, 8)); err != nil { // UTC, no DST
			return 0, err
		}
	}
	return 0, nil
}

func sysClockNanosleep(t *kernel.Task, a args) (uint64, error) {
	clock, flags := int32(a[0]), a[1]
	if clock == unix.CLOCK_THREAD_CPUTIME_ID {
		return 0, unix.EINVAL
	}
	if flags&^unix.TIMER_ABSTIME != 0 {
		return 0, unix.EINVAL
	}
	d, err := readTimespec(t, a[2])
	if err != nil {
		return 0, err
	}
	now, err := clockNow(t, clock)
	if err != nil {
		return 0, err
	}
	if flags&unix.TIMER_ABSTIME == 0 {
		return 0, sleep(t, d, a[3])
	}
	// An absolute sleep (which has nothing to report in rem) ends when the
	// guest's clock says so: the host timer it waits on runs on the host's
	// clock, which the guest's follows within microseconds, not exactly.
	for target := d; now < target; {
		if err := sleep(t, target-now, 0); err != nil {
			return 0, err
		}
		if now, err = clockNow(t, clock); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// sleep waits for d unless a signal interrupts it; then the time left goes
// to rem (if non-zero) and the call ends with EINTR once a handler ran.
func sleep(t *kernel.Task, d time.Duration, rem uint64) error {
	if d <= 0 {
		return nil
	}
	end := time.Now().Add(d)
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-t.Interruptible().Done():
		if rem != 0 {
			if err := t.CopyOut(rem, encodeTimespec(max(time.Until(end), 0))); err != nil {
				return err
			}
		}
		return kernel.ERESTARTNOHAND
	}
}
